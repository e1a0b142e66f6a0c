"""Shared test set-up."""

from __future__ import annotations

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
