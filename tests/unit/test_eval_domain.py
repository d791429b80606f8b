"""Evaluation datasets: JSONL and CSV parsing, derived kinds, named errors, content versions."""

from __future__ import annotations

import re

import pytest

from backend.config import PROJECT_ROOT
from use_cases.evaluation.answers import AnswerCase, parse_cases
from use_cases.evaluation.assertions import AssertionSpec
from use_cases.evaluation.domain import (
    EvalCase,
    dataset_format,
    dataset_slug,
    dataset_version,
    parse_dataset,
)
from use_cases.evaluation.run_domain import RunProgress
from use_cases.shared.errors import InvalidRequest

EVAL_DIR = PROJECT_ROOT / "sample_data" / "eval"


def test_the_bundled_set_parses_and_keeps_its_kinds() -> None:
    for name in ("dev", "test"):
        text = (EVAL_DIR / f"{name}.jsonl").read_text(encoding="utf-8")
        cases = parse_dataset(text, fmt="jsonl", origin=name)
        assert cases == parse_cases(text.splitlines(), origin=name)
        assert all(c.must_refuse == (c.kind == "refuse") for c in cases)
        assert all(c.group == c.kind for c in cases)
    assert AnswerCase is EvalCase


def test_kind_is_derived_when_absent() -> None:
    text = "\n".join(
        [
            '{"id": "a", "question": "q", "must_refuse": true}',
            '{"id": "b", "question": "q", "history": ["h"], "expect_any": ["x"]}',
            '{"id": "c", "question": "q", "expected_sql_rows": [[9]]}',
            '{"id": "d", "question": "q", "expect_any": ["x"], "dimension": "hr"}',
        ]
    )
    cases = parse_dataset(text, fmt="jsonl", origin="cases.jsonl")
    assert [c.kind for c in cases] == ["refuse", "follow_up", "sql", "kb"]
    assert cases[0].must_refuse and not cases[1].must_refuse
    assert cases[2].expected_sql_rows == ((9,),)
    assert cases[3].group == "hr"


def test_a_refuse_kind_case_must_be_refused_even_when_built_by_position() -> None:
    assert AnswerCase("r1", "parental leave?", "refuse").must_refuse


def test_csv_cells_take_lists_as_json_or_bars_and_objects_as_json() -> None:
    text = (
        "id,question,expect_any,expect_sources,tags,variables,assertions,must_refuse\n"
        'k1,"sev1, how fast?",5 minutes|five minutes,runbooks/ir.md,"[""ir"", ""sla""]",'
        '"{""team"": ""ops"", ""n"": 3}","[{""type"": ""contains"", ""value"": ""5""}]",\n'
        "r1,parental leave on mars?,,,,,,yes\n"
    )
    k1, r1 = parse_dataset(text, fmt="csv", origin="cases.csv")
    assert k1.question == "sev1, how fast?"
    assert k1.expect_any == ("5 minutes", "five minutes")
    assert k1.tags == ("ir", "sla")
    assert dict(k1.variables) == {"team": "ops", "n": "3"}
    assert k1.assertions == (AssertionSpec("contains", "5"),)
    assert r1.kind == "refuse" and r1.must_refuse


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ('{"question": "q", "kind": "nope", "expect_any": ["x"]}', "jsonl", "line 1: field 'kind'"),
        (
            '\n{"question": "q", "expect_anyy": ["x"]}',
            "jsonl",
            "line 2: unknown field 'expect_anyy'",
        ),
        ('{"question": "q", "must_refuse": "yes"}', "jsonl", "field 'must_refuse'"),
        ('{"question": "q", "expected_sql_rows": [1, 2]}', "jsonl", "field 'expected_sql_rows'"),
        ('{"question": "q", "variables": {"a": [1]}}', "jsonl", "field 'variables'"),
        ('{"question": "q", "tags": "x"}', "jsonl", "field 'tags'"),
        ('{"question": "q", "assertions": [{"type": "contain"}]}', "jsonl", "unknown type"),
        ('{"question": "q"}', "jsonl", "line 1: field 'expect_any' is empty"),
        ("question,kind\nq,kb\n", "csv", "cases, line 2: field 'expect_any' is empty"),
        ("question,kind,expect_any\nq,kb,x\nq2,nope,x\n", "csv", "line 3: field 'kind'"),
        # a quoted cell spanning two lines: the next row is physical line 4
        ('question,expect_any\n"two\nlines",x\nq,\n', "csv", "line 4: field 'expect_any'"),
        ("question,expect_anyy\nq,x\n", "csv", "line 1: unknown column 'expect_anyy'"),
        ('question,variables\nq,"{nope"\n', "csv", "line 2: field 'variables' is not valid JSON"),
        ("question,must_refuse\nq,maybe\n", "csv", "line 2: field 'must_refuse'"),
        ("question,expect_any\nq,x,extra\n", "csv", "line 2: 3 cells"),
        # nested past the JSON parser's recursion (was a RecursionError: a 500 on upload)
        ("[" * 30_000 + "]" * 30_000, "jsonl", "line 1: JSON arrays and objects nested too"),
        (f'question,variables\nq,"{"[" * 30_000}"\n', "csv", "line 2: field 'variables': JSON"),
    ],
)
def test_invalid_datasets_name_the_line_and_field(text: str, fmt: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_dataset(text, fmt=fmt, origin="cases")  # type: ignore[arg-type]  # formats that do not exist too, on purpose


def test_ids_default_to_the_line_and_must_be_unique() -> None:
    cases = parse_dataset("question,expect_any\nq1,x\nq2,y\n", fmt="csv", origin="c.csv")
    assert [c.id for c in cases] == ["line-2", "line-3"]
    with pytest.raises(InvalidRequest, match="line 3: field 'id': duplicate id 'a'"):
        parse_dataset("id,question,expect_any\na,q1,x\na,q2,y\n", fmt="csv", origin="c.csv")


def test_the_version_is_a_content_hash_blind_to_line_endings_and_trailing_space() -> None:
    text = '{"question": "q", "expect_any": ["x"]}\n{"question": "r", "expect_any": ["y"]}\n'
    same = text.replace("\n", "  \r\n") + "\n\n"
    assert dataset_version(text) == dataset_version(same)
    assert len(dataset_version(text)) == 12
    assert dataset_version(text) != dataset_version(text.replace('"y"', '"z"'))


def test_the_examples_in_the_docs_parse() -> None:
    doc = (PROJECT_ROOT / "docs" / "evaluation.md").read_text(encoding="utf-8")
    csv_block = re.search(r"```csv\n(.*?)```", doc, re.DOTALL)
    json_block = re.search(r"```json\n(.*?)```", doc, re.DOTALL)
    assert csv_block is not None and json_block is not None
    (from_csv,) = parse_dataset(csv_block[1], fmt="csv", origin="docs")
    assert from_csv.expect_any == ("100,000", "100000")
    assert from_csv.assertions == (AssertionSpec("not_contains", "unlimited"),)
    one_line = " ".join(json_block[1].split())
    (from_json,) = parse_dataset(one_line, fmt="jsonl", origin="docs")
    assert [a.type for a in from_json.assertions] == ["not_contains", "llm_judge"]


def test_cases_are_hashable_and_names_become_slugs_and_formats() -> None:
    (case,) = parse_dataset(
        '{"question": "q", "variables": {"a": "b"}, "assertions": [{"type": "refuses"}]}',
        fmt="jsonl",
        origin="x",
    )
    assert case in {case}
    assert dataset_slug("Support FAQ (v2)") == "support-faq-v2"
    assert dataset_format("cases.JSONL") == "jsonl" and dataset_format("a.csv") == "csv"
    with pytest.raises(InvalidRequest, match=r"a \.jsonl or \.csv file"):
        dataset_format("cases.xlsx")
    with pytest.raises(InvalidRequest, match="needs a letter or digit"):
        dataset_slug("!!!")


# --- run progress --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # (total, rows recorded, rows with an error) -> what a client reads
        ((4, 4, 2), {"total": 4, "done": 4, "completed": 2, "failed": 2, "percent": 100.0}),
        ((4, 1, 1), {"total": 4, "done": 1, "completed": 0, "failed": 1, "percent": 25.0}),
        ((4, 6, 5), {"total": 4, "done": 4, "completed": 0, "failed": 4, "percent": 100.0}),
        ((0, 0, 0), {"total": 0, "done": 0, "completed": 0, "failed": 0, "percent": 100.0}),
    ],
)
def test_run_progress_counts_each_finished_item_once_and_never_passes_the_total(
    counts: tuple[int, int, int], expected: dict[str, float]
) -> None:
    progress = RunProgress.of(*counts).as_dict()
    assert progress == expected
    assert progress["completed"] + progress["failed"] == progress["done"] <= progress["total"]
