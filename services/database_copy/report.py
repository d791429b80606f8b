"""What `almanac db copy` returns: the row counts on both sides and the search check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from use_cases.shared.errors import AlmanacError

#: The search check passes when the top document agrees for at least this share of the
#: queries. Both sides rank differently by design (BM25 vs ts_rank_cd, exact vs HNSW), so
#: the lower ranks may differ; the document a query came from should still come first.
MIN_TOP1_AGREEMENT = 0.8


@dataclass
class TableCount:
    table: str
    source: int
    target: int

    @property
    def equal(self) -> bool:
        return self.source == self.target


@dataclass
class SearchCheck:
    queries: int = 0
    top1_agreement: float = 1.0
    mean_overlap_at_5: float = 1.0
    passed: bool = True
    note: str = ""
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class CopyReport:
    source: str
    target: str
    migrations_applied: list[str]
    counts: list[TableCount]
    search: SearchCheck
    not_copied: list[str]

    @property
    def ok(self) -> bool:
        return all(c.equal for c in self.counts) and self.search.passed

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "target": self.target,
            "migrations_applied": self.migrations_applied,
            "counts": [
                {"table": c.table, "source": c.source, "target": c.target, "equal": c.equal}
                for c in self.counts
            ],
            "search": {
                "queries": self.search.queries,
                "top1_agreement": self.search.top1_agreement,
                "mean_overlap_at_5": self.search.mean_overlap_at_5,
                "required_top1_agreement": MIN_TOP1_AGREEMENT,
                "passed": self.search.passed,
                "note": self.search.note,
                "samples": self.search.samples,
            },
            "not_copied": self.not_copied,
        }


class CopyFailed(AlmanacError):
    """The copy stopped; the target holds none of the rows (the transaction rolled back)."""

    type = "copy_failed"
