"""Big Markdown lists cost what their size says (services/knowledge/loaders/markdown.py):
markdown-it reads a list item by running every block rule over it (~0.25 ms an item), so a
1.29 MB list of 100,000 items, a legitimate admin upload, was refused past the 5 s parse
budget (lists cost ~3.5 CPU-s per MB, prose 0.37). Runs of one-line items are now parsed as
their first and last line; the structure found (top-level headings, the lines a block holds)
is the one the whole parse gives, checked here over random documents, and the loader's
output for every Markdown file in the repository is unchanged (offline answers too)."""

from __future__ import annotations

import random

import pytest

from services.knowledge.loaders.markdown import (
    _MARKDOWN,
    MarkdownLoader,
    _block_structure,
    _without_list_runs,
)
from services.parse_pool import BudgetedLoader

#: The probe's file: 100,000 items, 1.29 MB.
BIG_LIST = ("# Inventory\n\n" + "".join(f"- item {n:05}\n" for n in range(100_000))).encode()


def _whole_parse(
    body: str, count: int
) -> tuple[dict[int, tuple[int, str, int]], list[bool], list[bool]]:
    """What `_block_structure` found before: every line given to markdown-it."""
    headings: dict[int, tuple[int, str, int]] = {}
    covered = [False] * count
    code = [False] * count
    tokens = _MARKDOWN.parse(body)
    for index, token in enumerate(tokens):
        if token.type in ("fence", "code_block") and token.map is not None:
            code[token.map[0] : token.map[1]] = [True] * (token.map[1] - token.map[0])
        if token.level != 0 or token.map is None:
            continue
        start, end = token.map
        covered[start:end] = [True] * (end - start)
        if token.type == "heading_open":
            headings[start] = (int(token.tag[1]), tokens[index + 1].content, end)
    return headings, covered, code


_LINES = [
    "- a", "* c", "+ d", " - e", "  - f", "   - g", "    - h", "1. i", "2. j", "3) k",
    "-     n", "```", "~~~", "# H1", "## H2", "text", "", "", "---", "===", "***", "- - -",
    "> quote", "<div>", "</div>", "<!-- c", "-->", "<?x", "| a | b |", "|---|---|", "    code",
    "[ref]: ../x.md", "\t- tab", "-", "1.", "  continued", "<![CDATA[", "<script>", "<!X",
    "a | b", "--- | ---", "| :-: |", "| x",
]  # fmt: skip
_MARKERS = ["-", "*", "+", "1.", "01.", "2.", "3)", " -", "   +", "|", " |"]
_TAILS = [
    "a", "# h", "```", "~~~ x", "<div>", "> q", "[r]: ../x", "- nested", "b \\", "c  ", "===",
    "---", "| a | b |", "<!-- x", "-->", "1. y", "\tz", "]]>", "?>", "</script>", "x > y",
    "a | b |", "---|---|", ":-: | --- |", "|",
]  # fmt: skip


def _document(rnd: random.Random) -> str:
    lines: list[str] = []
    for _ in range(rnd.randint(1, 25)):
        if rnd.random() < 0.4:  # a run of items of one marker, their text of any kind
            marker, spaces = rnd.choice(_MARKERS), rnd.choice([" ", "  ", "    ", "     "])
            lines += [marker + spaces + rnd.choice(_TAILS) for _ in range(rnd.randint(2, 8))]
        else:
            lines.append(rnd.choice(_LINES))
    return "\n".join(lines)


def _group(rnd: random.Random) -> list[str]:
    """An item at the margin with sub-items, mostly indented within it, of random markers
    and texts."""

    def tail() -> str:  # mostly a paragraph's text, which a run of one shape is made of
        return rnd.choice(_TAILS) if rnd.random() < 0.3 else rnd.choice(["a", "b c", "d e f"])

    marker, spaces = rnd.choice(_MARKERS[:6]), rnd.choice([" ", "  ", "   ", "    "])
    lines = [marker + spaces + tail()]
    margin = previous = len(marker + spaces)
    for _ in range(rnd.randint(1, 4)):
        indent = rnd.choice([margin, margin, previous, previous, margin + 1, margin - 1, 8, 1])
        child = rnd.choice(_MARKERS[:7]).strip() + rnd.choice([" ", " ", "  ", "    "])
        lines.append(" " * indent + child + tail())
        previous = indent + len(child)
    return lines


def _nested_document(rnd: random.Random) -> str:
    """Runs of items with sub-items, mostly of one shape (their texts may differ), among
    other lines."""
    lines: list[str] = []
    for _ in range(rnd.randint(1, 8)):
        if rnd.random() < 0.6:
            group = _group(rnd)
            for _ in range(rnd.randint(2, 6)):
                if rnd.random() < 0.15:
                    group = _group(rnd)
                lines += [line if rnd.random() < 0.8 else line + "x" for line in group]
        else:
            lines.append(rnd.choice(_LINES))
    return "\n".join(lines)


def test_the_structure_is_the_whole_parses_on_random_nested_lists() -> None:
    rnd = random.Random(3_300_000)
    for _ in range(1500):
        body = _nested_document(rnd)
        count = body.count("\n") + 1
        assert _block_structure(body, count) == _whole_parse(body, count), body


def test_the_structure_is_the_whole_parses_on_random_documents() -> None:
    rnd = random.Random(1_300_000)
    for _ in range(1200):
        body = _document(rnd)
        count = body.count("\n") + 1
        assert _block_structure(body, count) == _whole_parse(body, count), body


@pytest.mark.parametrize(
    "body",
    [
        # A numbered paragraph goes on over "2." lines and ends at a "1." line.
        "| a | b |\n2. two\n1. i\n1. i\n1. i\n---",
        # Items indented under an item are its content: a middle one closes its comment.
        "- <!-- x\n   +  ---\n   +  -->\n   +  - nested\n[ref]: ../x.md",
        # A top-level comment closed by an item in the middle of a run.
        "<!-- x\n- a\n- b -->\n- c\n# After",
        # A setext heading whose text is a run of items taken as its paragraph's lines.
        "text\n3) k\n3) k\n3) k\n---",
        # A run of pipe lines whose last one heads a table (a table interrupts a paragraph).
        "| a\n| a\n| | a | b |\n| ===\n| ---\n| ~~~ x",
        # The rows of a table, then a paragraph after a blank line.
        "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n| 5 | 6 |\n\ntext",
    ],
)
def test_the_cases_that_shaped_the_rule(body: str) -> None:
    count = body.count("\n") + 1
    assert _block_structure(body, count) == _whole_parse(body, count)


def test_a_long_list_or_table_is_given_to_the_parser_as_its_first_and_last_line() -> None:
    """The algorithmic shape, counted: the lines markdown-it reads do not grow with the
    list or the table (each item went through every block rule, each cell made a token)."""
    for items in (1_000, 100_000):
        body = "# Inventory\n\n" + "".join(f"- item {n}\n" for n in range(items))
        assert len(_without_list_runs(body.split("\n"))) == 5  # heading, blank, 2 items, end
        nested = "".join(f"- task {n}\n  - owner {n % 7}\n  - due {n % 30}\n" for n in range(items))
        assert len(_without_list_runs(f"# Tasks\n\n{nested}".split("\n"))) == 9  # + 2 x 3
        rows = "".join(f"| {n} | user{n} |\n" for n in range(items))
        body = "# Accounts\n\n| id | owner |\n|---|---|\n" + rows
        assert len(_without_list_runs(body.split("\n"))) == 7  # + header, delimiter


def test_a_big_list_loads_within_the_parse_budget() -> None:
    """The probe's 1.29 MB list of 100,000 items, parsed in a child process under the default
    CPU budget (PARSE_CPU_SECONDS, 5 s; a product limit, not a timing): refused before."""
    assert len(BIG_LIST) > 1_290_000
    document = BudgetedLoader(MarkdownLoader).load("inventory.md", BIG_LIST)
    text = "".join(section.text for section in document.sections)
    assert document.title == "Inventory"
    assert text.count("\n- item ") + text.startswith("- item ") == 100_000


def test_a_big_list_of_items_with_sub_items_loads_within_the_parse_budget() -> None:
    """2 MB of items with two sub-items each (~3.3 CPU-s per MB before: past the default
    5 s budget), parsed in a child process under that budget."""
    items = "".join(f"- task {n}\n  - owner {n % 7}\n  - due day {n % 30}\n" for n in range(50_000))
    data = f"# Tasks\n\n{items}".encode()
    assert len(data) > 1_950_000
    document = BudgetedLoader(MarkdownLoader).load("tasks.md", data)
    text = "".join(section.text for section in document.sections)
    assert text.count("\n  - owner ") == 50_000
