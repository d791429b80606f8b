"""CLI output: JSON in the same shapes as the HTTP API (its response models are reused), and
the terminal renderings of stored text, which is printed as it is (never as Rich markup)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer
from rich.markdown import Markdown
from rich.markup import escape
from rich.text import Text

if TYPE_CHECKING:  # the API's schemas load FastAPI: imported by the functions that print JSON
    from backend.sources import SourceScan
    from use_cases.knowledge.documents import DocumentPage
    from use_cases.knowledge.domain import DocumentDetail, DocumentRecord, IngestReport, SearchPage


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def search_page(page: SearchPage) -> dict[str, Any]:
    from backend.api.schemas import SearchOut

    return SearchOut.of(page).model_dump(mode="json")


def document_page(page: DocumentPage) -> dict[str, Any]:
    from backend.api.schemas import DocumentListOut

    return DocumentListOut.of(page).model_dump(mode="json")


def document_detail(detail: DocumentDetail) -> dict[str, Any]:
    from backend.api.schemas import DocumentDetailOut

    return DocumentDetailOut.of_detail(detail).model_dump(mode="json")


INGEST_STATUSES = ("added", "updated", "unchanged", "removed", "duplicate", "conflict", "failed")


@dataclass(frozen=True)
class Readiness:
    """When an ingest run's documents became searchable (the run's chunks embedded and
    stored) and answer-ready (their sentences prepared too), in seconds from its start."""

    chunks: int
    searchable_s: float
    answer_ready_s: float | None = None


def _rate(chunks: int, seconds: float) -> str:
    return f"{chunks / seconds:.1f} chunks/s" if seconds > 0 else "-"


def searchable_line(readiness: Readiness) -> str:
    return (
        f"[green]searchable[/] {readiness.chunks} chunks in {readiness.searchable_s:.1f} s "
        f"({_rate(readiness.chunks, readiness.searchable_s)})"
    )


def answer_ready_line(readiness: Readiness) -> str:
    seconds = readiness.answer_ready_s or 0.0
    return (
        f"[green]answer-ready[/] {readiness.chunks} chunks in {seconds:.1f} s "
        f"({_rate(readiness.chunks, seconds)})"
    )


def ingest_report(
    report: IngestReport, readiness: Readiness | None = None, scan: SourceScan | None = None
) -> dict[str, Any]:
    return {
        "skipped": [{"source": s.source, "reason": s.reason} for s in scan.skipped] if scan else [],
        "ignored": list(scan.ignored) if scan else [],
        **{status: report.count(status) for status in INGEST_STATUSES},
        "chunks_written": report.chunks_written,
        "answers_job": report.answers_job,
        "searchable_s": round(readiness.searchable_s, 3) if readiness else None,
        "answer_ready_s": round(readiness.answer_ready_s, 3)
        if readiness and readiness.answer_ready_s is not None
        else None,
        "items": [
            {
                "source": item.source,
                "status": item.status,
                "document_id": item.document_id,
                "chunks": item.chunks,
                "error": item.error,
                "replaced": replaced_version(item.replaced) if item.replaced else None,
            }
            for item in report.items
        ],
    }


def replaced_version(record: DocumentRecord) -> dict[str, Any]:
    """The version an update replaced, as the HTTP API shows it."""
    from backend.api.schemas import ReplacedOut

    return ReplacedOut.of(record).model_dump(mode="json")


def ingest_lines(report: IngestReport, known: Collection[str] = ()) -> list[str]:
    """One Rich line per input that needs saying: what was replaced, skipped or refused (a
    failure of `known`, reported before for the same file, is not said again)."""
    lines = []
    for item in report.items:
        if item.source in known and item.status != "updated":
            continue
        source = escape(item.source)
        if item.status == "updated" and item.replaced is not None:
            old = item.replaced
            dated = f", updated {old.updated_at.isoformat()}" if old.updated_at else ""
            lines.append(
                f"[cyan]updated[/] {source}: replaced the version ingested "
                f"{old.ingested_at:%Y-%m-%d %H:%M} ({escape(old.title)}{dated}, "
                f"{old.chunk_count} chunks)"
            )
        elif item.status in ("duplicate", "conflict", "failed"):
            colour = "yellow" if item.status == "duplicate" else "red"
            lines.append(f"[{colour}]{item.status}[/] {source}: {escape(item.error or '')}")
    return lines


def pdf_text_quality(source: str, share: float) -> str:
    """One line on how readable a PDF's extracted text is (`known_word_share`), with a
    warning when it is low: the user learns before asking questions of it."""
    figure = f"{escape(source)}: {share:.0%} of its text in known English words"
    from services.knowledge.loaders.pdf_text import LOW_TEXT_QUALITY

    if share >= LOW_TEXT_QUALITY:
        return f"[green]pdf[/] {figure}"
    return (
        f"[yellow]warning[/] {figure}: its words may be glued together, or it is a scan or "
        "not in English; answers from it may be poor"
    )


def ingest_summary(report: IngestReport, scan: SourceScan | None = None, known: int = 0) -> str:
    counts = ", ".join(
        f"{report.count(status)} {status}"
        for status in INGEST_STATUSES
        if status not in ("duplicate", "conflict") or report.count(status)
    )
    if scan is not None:
        counts += f", {len(scan.skipped)} skipped, {len(scan.ignored)} ignored"
    again = (
        f"; {known} failed as before, the file unchanged (almanac docs problems)" if known else ""
    )
    return f"{counts} ({report.chunks_written} chunks written){again}"


def scan_lines(scan: SourceScan) -> list[str]:
    """One Rich line per file a folder walk skipped (with why), one for those it ignored."""
    lines = [
        f"[yellow]skipped[/] {escape(item.source)}: {escape(item.reason)}" for item in scan.skipped
    ]
    if scan.ignored:
        names = ", ".join(escape(name) for name in scan.ignored)
        lines.append(f"[dim]ignored[/] {len(scan.ignored)} temporary or lock files: {names}")
    return lines


_MARK = re.compile(r"</?mark>")


def plain_highlight(highlight: str) -> str:
    """Terminal rendering (Rich markup) of a `<mark>` snippet: matched terms in bold.

    The snippet is HTML for the API's clients (`&` arrives as `&amp;`); a terminal gets the
    text itself."""
    parts = _MARK.split(highlight)
    tags = _MARK.findall(highlight)
    out = [escape(html.unescape(parts[0]))]
    for tag, part in zip(tags, parts[1:], strict=False):
        out.append("[bold yellow]" if tag == "<mark>" else "[/bold yellow]")
        out.append(escape(html.unescape(part)))
    return "".join(out)


def versions(document: DocumentRecord) -> str:
    """A document's place among its versions, by id: "supersedes 12", "superseded by 14"."""
    parts = []
    if document.supersedes_id is not None:
        parts.append(f"supersedes {document.supersedes_id}")
    if document.superseded_by_id is not None:
        parts.append(f"superseded by {document.superseded_by_id}")
    return ", ".join(parts)


def plain(value: str) -> Text:
    """A table cell shown as written: a title like `[draft] Plan` is not Rich markup."""
    return Text(value)


class ChatMarkdown(Markdown):
    """Markdown as chat clients show an answer: a line break in the text is a line break on
    screen, so the lines of a **Sources** block (`[1] Title, Section (date)`) stay one per
    line instead of being joined into one paragraph."""

    def __init__(self, markup: str) -> None:
        super().__init__(markup)
        for token in self.parsed:
            for child in token.children or ():
                if child.type == "softbreak":
                    child.type = "hardbreak"


def bench_footer(figures: dict[str, Any]) -> str:
    info = figures["info"]
    return (
        f"{info['queries']} queries, {info['documents']} documents, {info['chunks']} chunks, "
        f"embedder {info['embedder']}, indexed in {info['index_seconds']:.1f} s "
        f"({info['chunks_per_second']:.0f} chunks/s)"
    )
