"""The keys of older configs brought up to date before a config is built (:mod:`acga.config`):
keys earlier acga versions had and wrote into every checkpoint's stored config are dropped
(:data:`RETIRED_KEYS`), keys that moved to another section are read at their new place
(:data:`MOVED_KEYS`), so an old YAML file or checkpoint loads as before.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Mapping, Sequence

from .errors import ConfigError

__all__ = ["RETIRED_KEYS", "MOVED_KEYS", "upgrade_keys"]

# the logger the upgrade messages have always had (log lines and filters name it)
log = logging.getLogger("acga.config")

RETIRED_KEYS: dict[str, tuple[Any, ...] | None] = {
    "train.optimizer": ("adam",),
    "data.hflip": None,
    "paper": None,
}
"""Keys earlier acga versions had and wrote into every checkpoint's stored config, removed
since because nothing read them: ``train.optimizer`` (training always used Adam, the only value
ever allowed), ``data.hflip`` (the flip was never wired
into training) and ``paper`` (the published numbers a config reproduced; they live in
:mod:`acga.paper_results` alone). A config that still holds one loads as before: the key is dropped with a debug
log. The tuple lists the only values it may have (``None``: any); another value is a
ConfigError, since acga cannot do what it asks."""

MOVED_KEYS: dict[str, str] = {
    "model.lstm_hidden": "baseline.lstm_hidden",
    "model.classifier_width": "baseline.classifier_width",
    "model.cmsa_dim": "baseline.cmsa_dim",
    "model.cmsa_key_dim": "baseline.cmsa_key_dim",
}
"""Keys that moved to another section: old key -> new key. The sizes only the baselines read
were fields of ``model`` until they got their own section ``baseline``; a config that still
sets the old key (an older YAML file, the config stored in an older checkpoint, a
``model.lstm_hidden=...`` override) is read as if it set the new one. Setting both to different
values is a ConfigError."""


def upgrade_keys(data: Mapping[str, Any], source: str) -> Mapping[str, Any]:
    """``data`` (left unchanged) with the keys of older configs brought up to date: each key of
    :data:`RETIRED_KEYS` dropped, each of :data:`MOVED_KEYS` moved to its new place."""
    out = copy.deepcopy(dict(data))
    for key, allowed in RETIRED_KEYS.items():
        *sections, name = key.split(".")
        parent = _section(out, sections)
        if parent is None or name not in parent:
            continue
        value = parent.pop(name)
        if allowed is not None and value not in allowed:
            raise ConfigError(f"config {source}: {key} = {value!r}: the key was removed and acga "
                              f"only ever supported {', '.join(repr(a) for a in allowed)}; "
                              f"delete the key")
        log.debug("config %s: ignoring retired key %s = %r (no longer a setting)", source, key, value)
    for old, new in MOVED_KEYS.items():
        (old_section, old_name), (new_section, new_name) = old.split("."), new.split(".")
        parent = _section(out, [old_section])
        if parent is None or old_name not in parent:
            continue
        value = parent.pop(old_name)
        if out.get(new_section) is None:  # absent, or an empty ``baseline:`` in YAML
            out[new_section] = {}
        target = out[new_section]
        if not isinstance(target, dict):
            continue  # build_dataclass reports the section that is not a mapping
        if new_name in target and target[new_name] != value:
            raise ConfigError(f"config {source}: {old} = {value!r} and {new} = "
                              f"{target[new_name]!r}: {old} moved to {new}; keep only {new}")
        target[new_name] = value
        log.debug("config %s: reading %s as %s (the key moved)", source, old, new)
    return out


def _section(data: dict, path: Sequence[str]) -> dict | None:
    """The nested mapping at ``path`` in ``data`` (``[]``: ``data``), or None if there is none."""
    for part in path:
        data = data.get(part)
        if not isinstance(data, dict):
            return None
    return data
