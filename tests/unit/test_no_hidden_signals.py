"""What a chat turn decides travels as typed values, never in-band.

Scanned: `use_cases/chat/` and `services/offline/`. Each check reads the modules' syntax
trees and names what it finds as `path:line what`; each is also run on a planted example of
what it forbids, so that it can fail.

- No context variable (`contextvars`): state a turn needs is held by an object the turn owns.
- No text matched against instructions: no regular expression call on an expression naming
  `instructions`, no `prescribed_answer`, and the offline model never reads a request's
  instructions (`.instructions`): a declined turn's answer is `TurnDecisions.declined`.
- No meaning in a tool call's id: no id written with a literal prefix of two or more words
  (`offline_advice_...`) or with a value besides its random part (`offline_{kind}_...`), and
  no id taken apart (`.split`, `.partition`, `.startswith`, ...).
- No `provider_details`: an answer's confidence is `AnswerFacts.confidence`.
- No can't-find test on text in the turn's pipeline: the text test is
  `prompts.reads_as_not_found` alone, called only where no typed fact exists (a model that
  reports none, a log record of a kind of turn that decides none); `ChatResult.not_found`
  is a field the turn sets, not a property recomputed from the text.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("use_cases/chat", "services/offline")
REGEX_METHODS = frozenset({"search", "match", "fullmatch", "findall", "finditer", "sub", "subn"})
ID_PARSERS = frozenset(
    {"split", "rsplit", "partition", "rpartition", "startswith", "endswith", "removeprefix"}
)
#: Where the can't-find answer may be recognised from its text: (module, enclosing function).
TEXT_NOT_FOUND_ALLOWED = frozenset(
    {
        ("use_cases/chat/prompts.py", "reads_as_not_found"),
        ("use_cases/chat/chat_turns.py", "turn_not_found"),  # a model that reports no facts
        ("use_cases/chat/responses.py", "assess"),  # a record whose turn decided none
    }
)

Modules = Iterable[tuple[str, str]]


@cache
def scanned_modules() -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            found.append((path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")))
    return tuple(found)


def _walk_with_function(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Every node with the name of the innermost function holding it ("" at module level)."""

    def visit(node: ast.AST, function: str) -> Iterator[tuple[ast.AST, str]]:
        yield node, function
        inner = node.name if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else function
        for child in ast.iter_child_nodes(node):
            yield from visit(child, inner)

    yield from visit(tree, "")


def _names(node: ast.AST) -> set[str]:
    """The names and attribute names an expression mentions."""
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
    return found


def _trees(modules: Modules) -> Iterator[tuple[str, ast.AST]]:
    for relative, text in modules:
        yield relative, ast.parse(text, filename=relative)


def context_variables(modules: Modules) -> list[str]:
    found: list[str] = []
    for relative, tree in _trees(modules):
        for node in ast.walk(tree):
            imported = ([a.name for a in node.names] if isinstance(node, ast.Import) else []) + (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            )
            if isinstance(node, ast.Import | ast.ImportFrom) and any(
                name.split(".")[0] == "contextvars" for name in imported
            ):
                found.append(f"{relative}:{node.lineno} imports contextvars")
            elif isinstance(node, ast.Name | ast.Attribute) and "ContextVar" in _names(node):
                found.append(f"{relative}:{node.lineno} uses ContextVar")
    return found


def instructions_read_as_text(modules: Modules) -> list[str]:
    found: list[str] = []
    for relative, tree in _trees(modules):
        for node in ast.walk(tree):
            if isinstance(node, ast.Name | ast.FunctionDef) and "prescribed_answer" in (
                getattr(node, "id", None),
                getattr(node, "name", None),
            ):
                found.append(f"{relative}:{node.lineno} prescribed_answer")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in REGEX_METHODS
                and any(
                    "instructions" in name.lower()
                    for arg in [*node.args, *(k.value for k in node.keywords)]
                    for name in _names(arg)
                )
            ):
                found.append(f"{relative}:{node.lineno} a pattern applied to instructions")
            elif (
                relative.startswith("services/offline/")
                and isinstance(node, ast.Attribute)
                and node.attr == "instructions"
            ):
                found.append(f"{relative}:{node.lineno} the offline model reads .instructions")
    return found


def _says_something(value: ast.JoinedStr) -> bool:
    """Whether an f-string id holds more than a word and one random part: a literal prefix
    of two or more words (`offline_advice_`), or a second value written in (`{kind}`)."""
    text = "".join(
        part.value
        for part in value.values
        if isinstance(part, ast.Constant) and isinstance(part.value, str) and part.value
    )
    values = [part for part in value.values if isinstance(part, ast.FormattedValue)]
    return len([word for word in text.split("_") if word]) > 1 or len(values) > 1


def meaningful_ids(modules: Modules) -> list[str]:
    found: list[str] = []
    for relative, tree in _trees(modules):
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "tool_call_id":
                value = node.value
                if isinstance(value, ast.JoinedStr) and _says_something(value):
                    found.append(f"{relative}:{value.lineno} an id with a meaning prefix")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ID_PARSERS
                and "tool_call_id" in _names(node.func.value)
            ):
                found.append(f"{relative}:{node.lineno} an id taken apart ({node.func.attr})")
    return found


def provider_details(modules: Modules) -> list[str]:
    found: list[str] = []
    for relative, tree in _trees(modules):
        for node in ast.walk(tree):
            named = (
                (isinstance(node, ast.Attribute) and node.attr == "provider_details")
                or (isinstance(node, ast.Name) and node.id == "provider_details")
                or (isinstance(node, ast.keyword) and node.arg == "provider_details")
            )
            if named:
                found.append(f"{relative}:{getattr(node, 'lineno', 0)} provider_details")
    return found


def not_found_from_text(modules: Modules) -> list[str]:
    found: list[str] = []
    for relative, tree in _trees(modules):
        for node, function in _walk_with_function(tree):
            allowed = (relative, function) in TEXT_NOT_FOUND_ALLOWED
            if isinstance(node, ast.Name | ast.FunctionDef) and "is_not_found" in (
                getattr(node, "id", None),
                getattr(node, "name", None),
            ):
                found.append(f"{relative}:{node.lineno} is_not_found")
            elif (
                isinstance(node, ast.Call)
                and "reads_as_not_found" in _names(node.func)
                and not allowed
            ):
                found.append(f"{relative}:{node.lineno} the can't-find answer read from text")
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "startswith"
                and any("NOT_FOUND_ANSWER" in _names(arg) for arg in node.args)
                and not allowed
            ):
                found.append(f"{relative}:{node.lineno} a prefix test for the can't-find answer")
            elif (
                isinstance(node, ast.FunctionDef)
                and node.name == "not_found"
                and any("property" in _names(d) for d in node.decorator_list)
            ):
                found.append(f"{relative}:{node.lineno} not_found recomputed as a property")
    return found


CHECKS = {
    "context variables": context_variables,
    "instructions read as text": instructions_read_as_text,
    "meaning in tool call ids": meaningful_ids,
    "provider_details": provider_details,
    "can't-find read from text": not_found_from_text,
}

#: One planted example per check: each must be found.
PLANTED = {
    "context variables": (
        "services/offline/x.py",
        "import contextvars\n_PLANNED = contextvars.ContextVar('planned', default=None)\n",
    ),
    "instructions read as text": (
        "use_cases/chat/x.py",
        "def answer(instructions):\n    return _PRESCRIBED.search(instructions or '')\n",
    ),
    "meaning in tool call ids": (
        "services/offline/x.py",
        "def call(kind):\n"
        "    return ToolCallPart('t', '{}', tool_call_id=f'offline_{kind}_{uuid4().hex}')\n"
        "def kind(call):\n    return call.tool_call_id.split('_')[1]\n",
    ),
    "provider_details": (
        "services/offline/x.py",
        "def respond(part, c):\n    return ModelResponse([part], provider_details={'c': c})\n",
    ),
    "can't-find read from text": (
        "use_cases/chat/x.py",
        "class ChatResult:\n    @property\n    def not_found(self):\n"
        "        return self.answer.strip().startswith(NOT_FOUND_ANSWER)\n",
    ),
}


def test_the_scan_reads_the_modules_it_names() -> None:
    paths = [relative for relative, _ in scanned_modules()]
    assert "use_cases/chat/chat_turns.py" in paths and "services/offline/model.py" in paths


def test_each_check_finds_its_planted_example() -> None:
    for name, check in CHECKS.items():
        assert check([PLANTED[name]]), f"{name}: the planted example was not found"


def test_the_planted_ids_are_found_both_when_built_and_when_taken_apart() -> None:
    found = sorted(meaningful_ids([PLANTED["meaning in tool call ids"]]))
    assert len(found) == 2 and "meaning prefix" in found[0] and "taken apart" in found[1]
    prefix = ("services/offline/x.py", "p = ToolCallPart('t', tool_call_id=f'offline_advice_{h}')")
    assert meaningful_ids([prefix])


def test_a_plain_generated_id_and_the_allowed_text_test_pass() -> None:
    plain = ("use_cases/chat/x.py", "p = ToolCallPart('t', {}, tool_call_id=f'call_{hex}')\n")
    allowed = (
        "use_cases/chat/prompts.py",
        "def reads_as_not_found(text):\n    return text.startswith(NOT_FOUND_ANSWER)\n",
    )
    assert meaningful_ids([plain]) == [] and not_found_from_text([allowed]) == []


def test_no_context_variable_holds_a_turn() -> None:
    assert context_variables(scanned_modules()) == []


def test_no_instructions_are_read_back_as_text() -> None:
    assert instructions_read_as_text(scanned_modules()) == []


def test_no_tool_call_id_carries_a_meaning() -> None:
    assert meaningful_ids(scanned_modules()) == []


def test_no_confidence_rides_on_provider_details() -> None:
    assert provider_details(scanned_modules()) == []


def test_the_cant_find_answer_is_a_typed_fact_in_the_pipeline() -> None:
    assert not_found_from_text(scanned_modules()) == []
