"""Every docs/*.md file the code, the configs and the README name exists; package data exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_DOC = re.compile(r"docs/[A-Za-z0-9_/]+\.md")


def _sources():
    yield from (ROOT / "src" / "acga").rglob("*.py")
    yield from (ROOT / "src" / "acga" / "configs").rglob("*.yaml")
    yield ROOT / "README.md"


def test_named_docs_exist():
    named = {}
    for path in _sources():
        for ref in _DOC.findall(path.read_text(encoding="utf-8")):
            named.setdefault(ref, path.relative_to(ROOT))
    assert "docs/faithfulness.md" in named and len(named) >= 5
    missing = {ref: str(where) for ref, where in named.items() if not (ROOT / ref).is_file()}
    assert not missing


def test_docs_cite_no_outside_spec():
    for path in [*_sources(), *(ROOT / "docs").glob("*.md")]:
        assert not re.search(r"\bSPEC\b", path.read_text(encoding="utf-8")), path


def test_every_package_data_pattern_ships_files():
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = data["tool"]["setuptools"]["package-data"]["acga"]
    assert patterns
    for pattern in patterns:
        assert any(p.is_file() for p in (ROOT / "src" / "acga").glob(pattern)), pattern
