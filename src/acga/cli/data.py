"""`acga data`: not implemented yet."""

from __future__ import annotations

import argparse

from ..errors import AcgaError

COMMAND = "data"
HELP = "not implemented yet"
DESCRIPTION = "Not implemented yet."


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs=argparse.REMAINDER)


def run(args: argparse.Namespace) -> int:
    raise AcgaError("acga data is not implemented yet")
