"""Older versions of a document among the hits, dropped before answering.

Rule: a hit is an older version when another hit has a similar title (version words, numbers
and "vN" ignored) and a later date, or a less similar one while its own text says "superseded".
"""

from __future__ import annotations

import re
from typing import Any

from services.fts_query import words
from services.offline.text import jaccard, stem

_VERSION_WORDS = frozenset(
    {"version", "draft", "rev", "revision", "updated", "old", "new", "current", "superseded"}
)

_SUPERSEDED = re.compile(r"\bsuperseded\b", re.IGNORECASE)


def _title_key(title: str) -> frozenset[str]:
    return frozenset(
        stem(w)
        for w in words(title)
        if not w.isdigit() and not re.fullmatch(r"v\d+", w) and w not in _VERSION_WORDS
    )


def resolve_versions(hits: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Drop hits from older versions of a document among the hits.

    Returns the kept hits and {dropped source: the newer source that replaces it}.
    """
    docs: dict[str, dict[str, Any]] = {}
    for hit in hits:
        doc = docs.setdefault(
            hit.get("source") or hit.get("title", ""),
            {
                "key": _title_key(hit.get("title", "")),
                "date": hit.get("updated_at") or "",
                "superseded": False,
            },
        )
        if _SUPERSEDED.search(hit.get("text") or ""):
            doc["superseded"] = True
    replaced: dict[str, str] = {}
    for old, a in docs.items():
        for new, b in docs.items():
            if old == new or not b["date"] or a["date"] >= b["date"]:
                continue
            similarity = jaccard(a["key"], b["key"])
            same_document = similarity >= 0.8 or (similarity >= 0.5 and a["superseded"])
            if same_document and (old not in replaced or docs[replaced[old]]["date"] < b["date"]):
                replaced[old] = new
    kept = [h for h in hits if (h.get("source") or h.get("title", "")) not in replaced]
    return kept, replaced
