"""CLI: `almanac eval answers`, the answer evaluation on the bundled (or any) case set."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from backend.bootstrap import Container, load_sample_data_if_empty
from backend.cli import output
from backend.cli.common import (
    JsonOpt,
    console,
    err,
    open_container,
    run_command,
    settings_for_cli,
)
from backend.cli.eval_group import eval_app
from backend.cli.eval_run_commands import execute_run
from backend.config import PROJECT_ROOT, KnowledgeBaseSettings, Settings
from use_cases.evaluation.answers import (
    AnswerCase,
    AnswerReport,
    CaseResult,
    answer_body,
    parse_cases,
    summarise,
)
from use_cases.evaluation.datasets import BUNDLED_ID, bundled_text
from use_cases.evaluation.runs import RunRequest
from use_cases.shared.errors import InvalidRequest

EVAL_DIR = PROJECT_ROOT / "sample_data" / "eval"
CORPORA_DIR = PROJECT_ROOT / "sample_data" / "corpora"
Split = Literal["dev", "test", "all"]


def load_split(split: str, cases: Path | None = None) -> list[AnswerCase]:
    """The cases of `split` from the bundled set (dev.jsonl, test.jsonl), or from `cases`
    (one JSONL file, or a folder holding dev.jsonl/test.jsonl)."""
    if split not in ("dev", "test", "all"):
        raise InvalidRequest("--split must be dev, test or all.")
    if cases is not None and cases.is_file():
        files = [cases]
    else:
        folder = cases or EVAL_DIR
        names = ["dev", "test"] if split == "all" else [split]
        files = [folder / f"{name}.jsonl" for name in names]
    loaded: list[AnswerCase] = []
    for file in files:
        if not file.is_file():
            raise InvalidRequest(f"No evaluation cases at {file}.")
        loaded += parse_cases(file.read_text(encoding="utf-8").splitlines(), origin=str(file))
    ids = [c.id for c in loaded]
    if len(ids) != len(set(ids)):
        raise InvalidRequest("Case ids repeat across the files.")
    return loaded


def _quiet(result: CaseResult) -> None:
    return None


def case_progress(as_json: bool) -> Callable[[CaseResult], None]:
    """Prints ✓/✗ per case on a terminal's stderr (nothing for --json or a pipe)."""
    progress = None if as_json or not err.is_terminal else err

    def on_case(result: CaseResult) -> None:
        if progress is not None:
            mark = "[green]✓[/]" if result.correct else "[red]✗[/]"
            progress.print(f"{mark} {escape(result.id)}", highlight=False)

    return on_case


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _print_report(report: AnswerReport) -> None:
    console.print(
        f"[bold]Answers[/] split={report.split} model={escape(report.model)}: "
        f"correct {report.correct}/{report.cases} ({_pct(report.accuracy)}), "
        f"cited {_pct(report.cited)}, refusal accuracy {_pct(report.refusal_accuracy)}, "
        f"confidence AUROC {_figure(report.auroc)}, ECE {_figure(report.ece)}, "
        f"latency p50 {report.latency_p50_ms} ms, p95 {report.latency_p95_ms} ms",
        highlight=False,
    )
    table = Table("kind", "cases", "correct", "accuracy", "cited")
    for kind, summary in report.by_kind.items():
        table.add_row(
            kind,
            str(summary.cases),
            str(summary.correct),
            _pct(summary.accuracy),
            _pct(summary.cited),
        )
    console.print(table)
    labels = Table("confidence", "answered", "share", "right", "precision")
    for phrase, label in report.by_label.items():
        labels.add_row(
            phrase,
            str(label.answered),
            _pct(label.share),
            str(label.correct),
            _pct(label.precision),
        )
    console.print(labels)
    for failure in report.failures:
        _print_failure(failure)


def _label_cell(report: AnswerReport, phrase: str) -> str:
    """ "right/answered (share of the answered)" at one confidence phrase."""
    label = report.by_label.get(phrase)
    if label is None or not label.answered:
        return "-"
    return f"{label.correct}/{label.answered} ({_pct(label.share)})"


def _print_failure(result: CaseResult) -> None:
    answer = result.error or " ".join(answer_body(result.answer).split()) or "(empty)"
    expected = "a refusal" if result.must_refuse else "an answer"
    console.print(
        f"[red]✗ {escape(result.id)}[/] ({result.kind}, expected {expected}) "
        f"{escape(result.question)}\n    → {escape(answer[:300])}",
        highlight=False,
        soft_wrap=True,
    )


@eval_app.command("answers")
def answers(
    split: Annotated[
        str, typer.Option(help="Which cases: dev (tune on these), test (report only) or all.")
    ] = "dev",
    model: Annotated[str | None, typer.Option(help="One of ALLOWED_MODELS.")] = None,
    cases: Annotated[
        Path | None,
        typer.Option(help="A JSONL file of cases, or a folder with dev.jsonl and test.jsonl."),
    ] = None,
    corpus: Annotated[
        str | None,
        typer.Option(
            help="Score one corpus alone: a fresh data directory, that corpus ingested and "
            f"nothing else. `{HANDBOOK}` (the sample), a folder name under "
            "sample_data/corpora/, or `all` (one row per corpus).",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N cases (a quick check).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the answer-evaluation cases through the chat and score the answers."""

    def body() -> None:
        if corpus is not None:
            if cases is not None or limit is not None:
                raise InvalidRequest("Give --corpus alone, without --cases or --limit.")
            _corpus_answers(corpus, split, model, as_json)
            return
        load_split(split, cases)  # checks the split and the files, naming the line at fault
        name = cases.stem if cases is not None and cases.is_file() else split
        with open_container(with_sample=True) as container:
            report = evaluate(
                container, name, split, model, cases, case_progress(as_json), limit=limit
            )
        if as_json:
            output.print_json(report.as_dict())
        else:
            _print_report(report)

    run_command(body)


def evaluate(
    container: Container,
    name: str,
    split: str,
    model: str | None,
    cases: Path | None,
    on_case: Callable[[CaseResult], None],
    *,
    limit: int | None = None,
) -> AnswerReport:
    tags = () if split == "all" or (cases is not None and cases.is_file()) else (split,)
    export = execute_run(
        container,
        RunRequest(task_id=BUNDLED_ID, models=(model,) if model else (), tags=tags, limit=limit),
        dataset=_dataset_argument(cases),
        show_progress=False,
        on_row=lambda row: on_case(_case_result(row)),
    )
    results = [_case_result(row) for row in export["cases"]]
    return summarise(name, export["models"][0], results)


# --- corpora ------------------------------------------------------------------------------

#: The bundled sample handbook, as a corpus name.
HANDBOOK = "handbook"


def corpus_names() -> list[str]:
    """The corpora `--corpus` knows: the handbook, then each folder of sample_data/corpora/
    with documents and an evaluation set."""
    found = [
        folder.name
        for folder in sorted(CORPORA_DIR.iterdir())
        if (folder / "documents").is_dir() and (folder / "eval" / "dev.jsonl").is_file()
    ]
    return [HANDBOOK, *found]


def corpus_eval_dir(name: str) -> Path:
    """The folder of corpus `name`'s evaluation cases (dev.jsonl, test.jsonl)."""
    return EVAL_DIR if name == HANDBOOK else CORPORA_DIR / name / "eval"


def corpus_settings(name: str, data_dir: Path) -> tuple[Settings, Path]:
    """Settings for a fresh data directory holding corpus `name` alone (as the sample is
    loaded on first start), and the folder of its evaluation cases."""
    known = corpus_names()
    if name not in known:
        raise InvalidRequest(f"No corpus {name!r}; known: {', '.join(known)} (or all).")
    update: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": None,
        "knowledge_db": None,
        "app_db": None,
        "tables_db": None,
        "load_sample_data": True,
    }
    if name == HANDBOOK:
        defaults = KnowledgeBaseSettings.model_fields
        update |= {
            key: defaults[key].default
            for key in ("sample_data_dir", "sample_tables_dir", "sample_lexicon_file")
        }
        settings = settings_for_cli().updated(**update, lexicon_file=None)
        return settings, corpus_eval_dir(name)
    folder = CORPORA_DIR / name
    update |= {
        "sample_data_dir": folder / "documents",
        "sample_tables_dir": folder / "tables",
        "sample_lexicon_file": folder / "lexicon.json",  # its own, if it has one
        "lexicon_file": None,
    }
    return settings_for_cli().updated(**update), corpus_eval_dir(name)


def corpus_report(
    name: str, split: str, model: str | None = None, on_case: Callable[[CaseResult], None] = _quiet
) -> AnswerReport:
    """Corpus `name` ingested alone into a fresh data directory, its `split` scored."""
    with tempfile.TemporaryDirectory(prefix=f"almanac-{name}-") as tmp:
        settings, eval_dir = corpus_settings(name, Path(tmp))
        load_split(split, eval_dir)
        with open_container(settings) as container:
            loaded = load_sample_data_if_empty(container)
            if loaded is not None and loaded.answers_job is not None:
                # Scored answer-ready, as a knowledge base in use is: the same answers either
                # way, but the latencies would count the sentences' embedding.
                asyncio.run(container.knowledge.prepare_answers.wait(loaded.answers_job))
            cases = None if eval_dir == EVAL_DIR else eval_dir
            return evaluate(container, f"{name}/{split}", split, model, cases, on_case)


def _corpus_answers(name: str, split: str, model: str | None, as_json: bool) -> None:
    names = corpus_names() if name == "all" else [name]
    if name != "all" and name not in corpus_names():
        raise InvalidRequest(f"No corpus {name!r}; known: {', '.join(corpus_names())} (or all).")
    reports = {}
    for corpus in names:
        if name == "all" and not as_json:
            err.print(f"Scoring {corpus} ({split})...", highlight=False)
        reports[corpus] = corpus_report(corpus, split, model, case_progress(as_json))
    if as_json:
        data = {c: r.as_dict() for c, r in reports.items()}
        output.print_json(data if name == "all" else data[name])
    elif name == "all":
        _print_corpora(reports)
    else:
        _print_report(reports[name])


def _print_corpora(reports: Mapping[str, AnswerReport]) -> None:
    table = Table(
        "corpus",
        "split",
        "correct",
        "accuracy",
        "cited",
        "refusal acc.",
        "AUROC",
        "ECE",
        "very high",
        "high",
        "p50 ms",
        "p95 ms",
        title="Answers per corpus",
    )
    for corpus, report in reports.items():
        table.add_row(
            corpus,
            report.split.rpartition("/")[2],
            f"{report.correct}/{report.cases}",
            _pct(report.accuracy),
            _pct(report.cited),
            _pct(report.refusal_accuracy),
            _figure(report.auroc),
            _figure(report.ece),
            _label_cell(report, "very high"),
            _label_cell(report, "high"),
            str(report.latency_p50_ms),
            str(report.latency_p95_ms),
        )
    console.print(table)


def _dataset_argument(cases: Path | None) -> str | None:
    """`eval answers` is `eval run` on the bundled set (`answers`, its split as a tag), on a
    case file, or on a folder of dev.jsonl/test.jsonl (registered as one dataset)."""
    if cases is None or cases.resolve() == EVAL_DIR.resolve():
        return None
    if cases.is_file():
        return str(cases)
    combined = Path(tempfile.mkdtemp()) / f"{cases.name or 'cases'}.jsonl"
    combined.write_text(bundled_text(cases), encoding="utf-8")
    return str(combined)


def _case_result(row: Mapping[str, Any]) -> CaseResult:
    return CaseResult(
        id=row["case_id"],
        kind=row["kind"],
        question=row["question"],
        answer=row["answer"],
        correct=bool(row["correct"]),
        refused=bool(row["refused"]),
        must_refuse=bool(row["must_refuse"]),
        cited=row["cited"] if row["expect_sources"] else None,
        latency_ms=int(row["latency_ms"] or 0),
        sources=tuple(row.get("sources", ())),
        error=row["error"],
        confidence=row.get("confidence"),
    )
