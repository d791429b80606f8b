"""What reading a share page costs: the work is linear in the page's bytes whatever it holds
(unclosed `<script>` tags made the old regex reader quadratic, 160 KB took 12 s),
counted as the bytes the HTML tokenizer's searches pass over, never timed; past the CPU
budget the page is refused."""

from __future__ import annotations

import html.parser
import re
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from services.conversations.import_formats import ConversationFormatReader
from tests.hostile_inputs import MiB, unclosed_script_page
from tests.share_pages import FIXTURES
from use_cases.conversations.import_domain import UnsupportedPage
from use_cases.shared.errors import InputTooCostly

URL = "https://chatgpt.com/share/x"
#: The default of IMPORT_MAX_PAGE_BYTES: the largest page the server fetches.
PAGE_CAP = 5 * MiB


class Scanned:
    """Bytes passed over by the tokenizer's regex searches (a search without a match passes
    over the rest of the text; an anchored match over what it matched)."""

    def __init__(self) -> None:
        self.bytes = 0

    def pattern(self, real: re.Pattern[str]) -> Any:
        scanned = self

        class Counting:
            def search(self, text: str, pos: int = 0, *rest: int) -> re.Match[str] | None:
                found = real.search(text, pos, *rest)
                scanned.bytes += (found.end() if found else len(text)) - pos
                return found

            def match(self, text: str, pos: int = 0, *rest: int) -> re.Match[str] | None:
                found = real.match(text, pos, *rest)
                scanned.bytes += found.end() - pos if found else 0
                return found

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        return Counting()


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> Iterator[Scanned]:
    """Every pattern of `html.parser` counted, the one it compiles for a script's end too."""
    counter = Scanned()
    for name, value in vars(html.parser).items():
        if isinstance(value, re.Pattern):
            monkeypatch.setattr(html.parser, name, counter.pattern(value))
    compile_: Callable[..., re.Pattern[str]] = re.compile
    shim = types.SimpleNamespace(
        compile=lambda *args, **kw: counter.pattern(compile_(*args, **kw)), I=re.I
    )
    monkeypatch.setattr(html.parser, "re", shim)
    yield counter


@pytest.mark.parametrize("size", [160 * 1024, 1 * MiB, PAGE_CAP], ids=["160K", "1M", "cap"])
@pytest.mark.parametrize("tag", [b"<script>", b"<script", b"<script><!--", b'<a title="'], ids=str)
def test_an_unclosed_page_is_read_in_work_linear_in_its_size(
    scanned: Scanned, size: int, tag: bytes
) -> None:
    page = unclosed_script_page(size, tag=tag).decode()
    with pytest.raises(UnsupportedPage):
        ConversationFormatReader().parse_page(URL, page)
    # The quadratic reader passed over each start's rest: ~size/8 times the page.
    assert 0 < scanned.bytes <= 3 * len(page), scanned.bytes


def test_the_complete_scripts_before_unclosed_ones_are_read(scanned: Scanned) -> None:
    page = (FIXTURES / "grok-share.html").read_text() + "<script>" * 100_000
    conversation = ConversationFormatReader().parse_page(URL, page)
    assert conversation.source == "grok" and len(conversation.messages) == 3
    assert 0 < scanned.bytes <= 3 * len(page)


def test_a_page_past_the_cpu_budget_is_refused() -> None:
    # ~350,000 tags take about a second of CPU on a laptop: 100 times the budget.
    page = unclosed_script_page(1 * MiB, tag=b"<a>").decode()
    with pytest.raises(InputTooCostly, match="PARSE_CPU_SECONDS"):
        ConversationFormatReader(cpu_s=0.01).parse_page(URL, page)
