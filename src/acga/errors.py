"""Error types. Every error a user can cause is an :class:`AcgaError`: the CLI prints its message
on one line and exits with status 2, without a traceback."""

from __future__ import annotations

__all__ = [
    "AcgaError",
    "ConfigError",
    "DataError",
    "CheckpointError",
    "InvalidShapeError",
]


class AcgaError(Exception):
    """Base class for errors caused by user input (files, configs, arguments)."""


class ConfigError(AcgaError):
    """A config file or override is wrong: unknown key, wrong type, impossible combination."""


class DataError(AcgaError):
    """A data file or folder is missing, corrupt, or not in the expected layout."""


class CheckpointError(AcgaError):
    """A checkpoint is truncated, foreign, or does not match the model's configuration."""


class InvalidShapeError(AcgaError, ValueError):
    """A tensor has the wrong shape. The message names the tensor and both shapes."""

    def __init__(self, name: str, got: tuple, expected: str):
        self.name, self.got, self.expected = name, tuple(got), expected
        super().__init__(f"{name} has shape {tuple(got)}, expected {expected}")
