"""acga: the asymmetric cross-guided attention network (Wang, Deng, Yan, Tao, ICCV 2019) for
segmenting, in a video, the actor and action that a sentence describes."""

from __future__ import annotations

__version__ = "0.1.0"

from .config import Config, load_config  # noqa: E402

__all__ = ["__version__", "Config", "load_config", "build_model"]


def build_model(cfg):
    """Build the network a config describes (see :mod:`acga.models`)."""
    from .models import build_model as _build

    return _build(cfg)
