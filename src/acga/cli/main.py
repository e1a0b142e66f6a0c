"""The ``acga`` console script.

Each subcommand lives in its own module of this package and defines ``COMMAND`` (its name),
``HELP`` (one line), ``DESCRIPTION`` (the ``--help`` text, with an example), ``add_args(parser)``
and ``run(args) -> int``. Modules are imported only when their command runs, so ``acga --help``
does not pay for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from .. import __version__
from ..errors import AcgaError, describe_os_error

log = logging.getLogger("acga")

# (command, module, one-line help); the order is the order of ``acga --help``.
SUBCOMMANDS: list[tuple[str, str, str]] = [
    ("demo", "demo", "embedded default: synthesize data, train, evaluate, write a report"),
    ("synth", "synth", "write the synthetic benchmark in the A2D or JHMDB release layout"),
    ("data", "data", "inspect datasets (JSON Lines of samples)"),
    ("extract", "extract", "fill the feature cache with frozen I3D features"),
    ("train", "train", "train a config (resumable, DDP via torchrun)"),
    ("eval", "eval", "evaluate a checkpoint with the acga and coco protocols"),
    ("segment", "segment", "segment your own video from a sentence"),
    ("score", "score", "score predicted masks against ground truth"),
    ("params", "params", "parameter table of configs, by module"),
    ("convert-official", "convert_official", "convert the authors' released checkpoint"),
    ("ablate", "ablate", "train and evaluate a suite of configs; write the table"),
]


def _parent_parser() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("logging")
    group.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    group.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    group.add_argument("--logfile", default=None, help="also write the log to this file")
    return parent


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if args.logfile:
        handlers.append(logging.FileHandler(args.logfile))
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        handlers=handlers, force=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acga",
        description="ACGA (Wang et al., ICCV 2019): segment the actor and action a sentence "
        "describes in a video. Start with `acga demo`.",
    )
    parser.add_argument("--version", action="version", version=f"acga {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parent = _parent_parser()
    for command, module, help_text in SUBCOMMANDS:
        sub.add_parser(command, help=help_text, add_help=False)
    parser._acga_sub = sub  # type: ignore[attr-defined]
    parser._acga_parent = parent  # type: ignore[attr-defined]
    return parser


def _command_parser(command: str, module_name: str, help_text: str) -> tuple[argparse.ArgumentParser, object]:
    module = importlib.import_module(f"acga.cli.{module_name}")
    parser = argparse.ArgumentParser(
        prog=f"acga {command}",
        description=getattr(module, "DESCRIPTION", help_text),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_parent_parser()],
    )
    module.add_args(parser)
    return parser, module


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {c: (m, h) for c, m, h in SUBCOMMANDS}
    if not argv or argv[0] not in commands:
        parser = build_parser()
        if not argv:
            parser.print_help()
            return 0
        parser.parse_args(argv)  # prints --help / --version, or the "invalid choice" error
        return 2
    command, rest = argv[0], argv[1:]
    module_name, help_text = commands[command]
    parser, module = _command_parser(command, module_name, help_text)
    args = parser.parse_args(rest)
    try:
        _setup_logging(args)  # --logfile is opened here: its errors are the user's too
        from ..utils import retain_freed_memory

        retain_freed_memory()  # training steps re-use their memory (see the docstring)
        return int(module.run(args) or 0)
    except AcgaError as exc:
        log.debug("traceback of the error below", exc_info=True)
        return _error(command, str(exc))
    except BrokenPipeError:  # `acga data samples ... | head`: the reader stopped; not an error
        _silence_stdout()
        return 141
    except OSError as exc:  # a file system's refusal (read-only, full, folder/file mix-up, ...)
        log.debug("traceback of the error below", exc_info=True)
        return _error(command, describe_os_error(exc))
    except KeyboardInterrupt:
        print(f"acga {command}: interrupted", file=sys.stderr)
        return 130


def _error(command: str, message: str) -> int:
    """Print the one error line (the whole message on one line) and return exit status 2."""
    print(f"acga {command}: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush is quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass

if __name__ == "__main__":
    raise SystemExit(main())
