"""The use-case rule (docs/architecture.md, "Use cases"): every class of `use_cases/` with
public methods is one of three kinds.

* An **action**, named for what it does (`IngestDocuments`, `RunSql`): its entry is the
  async `execute`; its other public methods are the same action in another form only:
  `stream` (the events `execute` drains), `run` or the action's own verb (`RecordAudit.record`,
  `DecideSearch.decide`: the synchronous form, for a caller with no event loop or inside a
  worker thread), `run_job` (the action resumed as a background job) and `check` (its checks,
  run before the work is queued). An action whose only form is synchronous has `run` alone.
* A **manager of one aggregate**, named `Manage<Aggregate>` (`ManageChats`,
  `ManagePromptLibrary`): the reads and changes of one stored aggregate, each public method
  one action on it, and no `execute`.
* A **part** of use cases (the turn core, citation numbering, rate limits): a named
  collaborator the use cases are built from, listed below with what it is.

What does not fit is listed below with its reason; a new class that fits none fails here.
Properties, static and class methods are not counted (a property may read an action's
configuration, `read_limit`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORMS = {"execute", "stream", "run", "run_job", "check"}
NOT_COUNTED_DECORATORS = {"property", "staticmethod", "classmethod", "cached_property"}
NOT_USE_CASE_BASES = re.compile(r"Protocol|Enum|NamedTuple|TypedDict|BaseModel|Exception|Error")

# Parts: classes the use cases are built from, not use cases of their own.
PARTS = {
    "TurnRunner": "the turn core every kind of turn runs through (use_cases/chat)",
    "TurnRecord": "what one turn's agent run did, recorded from its events",
    "NoTurnObserver": "the TurnObserver port's null adapter",
    "CitationOrder": "a turn's citations, numbered in the order of first use",
    "Withholding": "what one reader may be shown of stored answers (use_cases/chat)",
    "StoredAnswers": "makes a stored answer's reader's Withholding",
    "NumberedStream": "CitationOrder applied to streamed text",
    "NumberedText": "CitationOrder applied to a turn's event stream",
    "MainAdviceStream": "GiveAdvice's reader of the advice as the output tool streams it",
    "PromptTypes": "the registry of prompt types and their defaults (domain)",
    "ModelsForPromptType": "the model resolution every turn's use case asks (request > default)",
    "ProviderRateLimits": "the evaluation engine's per-provider limits",
    "UserUploadLimits": "AttachFile's per-user caps on files read at once and bytes in flight",
    "SharedUploadLimits": "the same caps counted in a ledger every replica shares",
    "ChunkBudget": "AttachFile's per-user budget of chunks embedded a minute",
    "ItemExecutor": "the evaluation engine's runner of one dataset item",
    "BackgroundRuns": "the life cycle evaluation and cleaning runs share (schedule, resume)",
    "ExternalToolset": "the PydanticAI toolset that offers a run's outside (MCP) tools",
    "ScopedRetriever": "the retriever port bound to one reader's scope (a turn's searches)",
    "ScopedSqlRunner": "a SqlRunner bound to one reader's collections (a turn's SQL tool)",
    "ParseAhead": "IngestDocuments' reader of the inputs after the one in turn",
}

# Managers of one aggregate whose name predates the rule (renaming them would touch every
# caller for no change in what they do); the two kinds of run also `execute` one run.
GROUPS = {
    "BenchmarkRuns": "evaluation runs: start, cancel, delete, list, export; execute runs one",
    "CleaningRuns": "cleaning runs, the same life cycle as BenchmarkRuns",
    "CleaningTasks": "the cleaning benchmark's tables and tasks",
    "CleaningMetrics": "read-only: one cleaning run's metrics, overall and per dimension",
    "RunMetrics": "read-only: one evaluation run's metrics, overall and per dimension",
    "EditDatasets": "evaluation datasets item by item (each edit a new dataset version)",
    "EvaluatePromptVersions": "a prompt's versions: runs over them and their comparison",
    "TrackProject": "a chat's draft project: create and read",
    "DraftChat": "a chat with a draft: its lock, its messages, its streamed turn",
    "SignInWithProvider": "one OpenID Connect sign-in in its steps (ready, begin, complete)",
}

# Actions with public methods beyond their forms: (class, method) -> why.
EXTRA_METHODS = {
    ("Authenticate", "usable_keys"): "the start-up log says whether any key can sign in",
    ("Authenticate", "execute_session"): "the same caller check for a session cookie",
    ("RecordFeedback", "withdraw"): "taking feedback back is the same record, undone",
    ("RecordFeedback", "execute_withdraw"): "withdraw's async form",
    ("RecordResponse", "assess"): "the confidence of an answer before it is recorded",
    ("ChatTurns", "model_identifier"): "the model a turn will use, for the reply's header",
    ("LoadTableAsAdmin", "run_loaded"): "run, returning the loaded table for the upload",
    ("ImportExportFile", "run_now"): "the CLI's import without the job queue",
    ("IngestDocuments", "supports"): "which files a folder ingest picks up",
    ("IngestDocuments", "refusal"): "why a file a folder ingest skips is not read",
    ("ResolveReadScope", "collection_id"): "the collection a write names, checked the same way",
    ("ResolveReadScope", "collections_of"): "the same scope's collections, for the tables' reads",
    ("ResolveReadScope", "names"): "the collections' names, to show where a table belongs",
    ("PrepareAnswers", "schedule"): "the AnswerPreparation port: queued after an ingest commits",
    ("PrepareAnswers", "wait"): "until its job ends: the CLI's and the benchmark's answer-ready",
    ("ListConflicts", "wait"): "its background scan's life cycle, for tests and shutdown",
    ("ListConflicts", "close"): "its background scan's life cycle, for tests and shutdown",
    ("ScanConflicts", "close"): "stops a scan under way at shutdown, storing nothing",
    ("GetConfidenceStats", "stats"): "the synchronous form, named for what it returns",
    ("GetBrierScore", "report"): "the synchronous form, named for what it returns",
    ("GetCalibrationReport", "report"): "the synchronous form, named for what it returns",
    ("GetPhraseStatus", "status"): "the synchronous form, named for what it returns",
    ("AutoTunePhrases", "tune"): "the synchronous form, named for what it does",
}


@dataclass(frozen=True)
class UseCaseClass:
    module: str
    name: str
    methods: tuple[str, ...]

    @property
    def verb(self) -> str:
        return re.findall(r"[A-Z][a-z]*", self.name)[0].lower()


def public_methods(node: ast.ClassDef) -> tuple[str, ...]:
    return tuple(
        item.name
        for item in node.body
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
        and not item.name.startswith("_")
        and not NOT_COUNTED_DECORATORS.intersection(
            ast.unparse(decorator).split(".")[-1] for decorator in item.decorator_list
        )
    )


def is_data(node: ast.ClassDef) -> bool:
    decorators = " ".join(ast.unparse(decorator) for decorator in node.decorator_list)
    bases = " ".join(ast.unparse(base) for base in node.bases)
    return "dataclass" in decorators or bool(NOT_USE_CASE_BASES.search(bases))


def classes_in(source: str, module: str) -> Iterator[UseCaseClass]:
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and not is_data(node):
            methods = public_methods(node)
            if methods:
                yield UseCaseClass(module, node.name, methods)


def use_case_classes(root: Path = REPO / "use_cases") -> list[UseCaseClass]:
    found: list[UseCaseClass] = []
    for path in sorted(root.glob("*/*.py")):
        found.extend(classes_in(path.read_text(encoding="utf-8"), path.stem))
    return found


def breaks_the_rule(cls: UseCaseClass) -> list[str]:
    """What is wrong with one class (nothing when it fits its kind)."""
    if cls.name in PARTS or cls.name in GROUPS:
        return []
    if cls.name.startswith("Manage"):
        if "execute" in cls.methods:
            return [f"{cls.name} groups an aggregate's actions and has execute"]
        return []
    allowed = FORMS | {cls.verb} | {method for (name, method) in EXTRA_METHODS if name == cls.name}
    problems = [
        f"{cls.name}.{method} is not a form of its action"
        for method in cls.methods
        if method not in allowed
    ]
    if not {"execute", "run"} & set(cls.methods):
        problems.append(f"{cls.name} has neither execute nor run")
    return problems


def test_every_use_case_class_is_an_action_a_manager_or_a_part() -> None:
    problems = [problem for cls in use_case_classes() for problem in breaks_the_rule(cls)]
    assert problems == []


def test_every_listed_exception_is_still_there() -> None:
    """An exception whose class is gone (or now fits the rule) is taken off the lists."""
    classes = {cls.name: cls for cls in use_case_classes()}
    listed = {*PARTS, *GROUPS, *(name for name, _ in EXTRA_METHODS)}
    assert sorted(listed - classes.keys()) == []
    assert [(c, m) for (c, m) in EXTRA_METHODS if m not in classes[c].methods] == []
    assert [name for name in GROUPS if name.startswith("Manage")] == []


def test_a_class_that_fits_no_kind_is_found() -> None:
    source = """
class ListThings:
    async def execute(self): ...
    def run(self): ...
    def list(self): ...
    @property
    def read_limit(self): ...

class ManageThings:
    def create(self): ...
    def delete(self): ...

class GrabBag:
    async def execute(self): ...
    def also_this(self): ...

class ManageOthers:
    async def execute(self): ...

class Helper:
    def help(self): ...

@dataclass
class Thing:
    def describe(self): ...
"""
    problems = [p for cls in classes_in(source, "m") for p in breaks_the_rule(cls)]
    assert problems == [
        "GrabBag.also_this is not a form of its action",
        "ManageOthers groups an aggregate's actions and has execute",
        "Helper.help is not a form of its action",
        "Helper has neither execute nor run",
    ]
