"""Shared test set-up."""

from __future__ import annotations

import logging

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # On a small shared CPU, intra-op threads cost more than they give for the tiny tensors of
    # unit tests; restore the setting afterwards so nothing leaks between tests.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _restore_root_logging():
    # `acga` CLI calls set up the root logger (basicConfig(force=True)) with a handler on the
    # sys.stderr of that moment, a capture stream closed after the test; later log records
    # would then print "Logging error" tracebacks into other tests' stderr.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            if isinstance(handler, logging.FileHandler):
                handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
