"""Query types, sentence lengths and relation kinds of a synthetic A2D folder (docs/synthetic.md,
"Query types").

    python benchmarks/query_types.py DATA [--json OUT.json]

Counts every described actor of ``DATA/synth_meta.json`` (one query each; the missed videos
included). Generator version 2 records each actor's ``query_type``; for version 1 folders
(which have none) it is read off the video kind and the query's words (:func:`infer_type`).
Prints a Markdown table and writes the counts as JSON.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from acga.data.synth import COLOURS, META_NAME, POSITION_WORDS, SIZE_WORDS

_ADJECTIVES = set(COLOURS) | {w for words in SIZE_WORDS.values() for w in words}
# length buckets, in words (the model reads the first 20 tokens): label -> (low, high)
_BUCKETS = {"1-5": (1, 5), "6-10": (6, 10), "11-15": (11, 15), "16-20": (16, 20),
            ">20": (21, 10**9)}


def infer_type(kind: str, in_pair: bool, query: str) -> str:
    """Version 1's query type: ``action`` / ``class`` for a distractor pair, otherwise what
    the query names besides class and action (colour/size words, an absolute position)."""
    if kind == "same_appearance" and in_pair:
        return "action"
    if kind == "same_action" and in_pair:
        return "class"
    padded = f" {query} "
    parts = (["attribute"] if _ADJECTIVES & set(query.split()) else []) + \
        (["position"] if any(f" {p} " in padded for p in POSITION_WORDS.values()) else [])
    return "+".join(parts) or "plain"


def count(root: Path) -> dict:
    meta = json.loads((root / META_NAME).read_text(encoding="utf-8"))
    types: Counter = Counter()
    relations: Counter = Counter()
    lengths: Counter = Counter()
    words = []
    for video in meta["videos"]:
        for actor in video["actors"]:
            query = actor["query"]
            if query is None:
                continue
            qtype = actor.get("query_type") or infer_type(
                video["kind"], actor["instance"] in video["pair"], query)
            types[qtype] += 1
            if qtype.startswith("relation:"):
                relations[qtype.split(":", 1)[1]] += 1
            n = len(query.split())
            words.append(n)
            lengths[next(k for k, (lo, hi) in _BUCKETS.items() if lo <= n <= hi)] += 1
    return {"folder": str(root), "generator": meta.get("generator", 1),
            "videos": len(meta["videos"]), "kinds": meta["kinds"], "queries": len(words),
            "query_types": dict(types.most_common()),
            "relation_kinds": dict(sorted(relations.items())),
            "lengths": {k: lengths[k] for k in _BUCKETS},
            "mean_words": round(sum(words) / max(len(words), 1), 2),
            "max_words": max(words, default=0)}


def table(c: dict) -> str:
    n = max(c["queries"], 1)
    lines = [f"generator {c['generator']}: {c['videos']} videos, {c['queries']} queries, "
             f"{c['mean_words']} words on average (max {c['max_words']})", "",
             "| query type | queries | % |", "|---|---:|---:|"]
    lines += [f"| {k} | {v} | {100 * v / n:.1f} |" for k, v in c["query_types"].items()]
    lines += ["", "| words | queries | % |", "|---|---:|---:|"]
    lines += [f"| {k} | {v} | {100 * v / n:.1f} |" for k, v in c["lengths"].items()]
    if c["relation_kinds"]:
        lines += ["", "| relation | queries |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in c["relation_kinds"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="a synthetic A2D folder (acga synth a2d)")
    parser.add_argument("--json", type=Path, default=None, help="write the counts here")
    args = parser.parse_args(argv)
    c = count(args.data)
    print(table(c))
    if args.json is not None:
        args.json.write_text(json.dumps(c, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
