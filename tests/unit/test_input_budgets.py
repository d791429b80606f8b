"""Every input's reading is bounded by what it produces, not by its size on the wire
(services/budgets.py): decompression bombs are refused while they inflate, with the memory
the test process allocated and the bytes it inflated counted (never the seconds it took: those
are measured by `python -m bench.bench_hostile_inputs`); malformed ZIPs are 422 naming what is
wrong; the PDF page and content budget refuses fan-out documents."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from collections.abc import Callable

import pytest

from services.budgets import BUDGET, BoundedReader, InputBudget, PdfBudget, stream_json_items
from services.conversations.import_formats import ConversationFormatReader
from tests import hostile_inputs
from tests.conversation_exports import chatgpt_export
from tests.inflation import counting_inflation
from tests.narrowing import of_type
from use_cases.shared.errors import AlmanacError, InputTooCostly, InvalidArchive

reader = ConversationFormatReader()
MiB = 1024 * 1024


def _cost(parse: Callable[[], object]) -> tuple[BaseException | None, float, int]:
    """What `parse` raised, the peak of Python memory it allocated (MB) and the bytes it
    inflated."""
    tracemalloc.start()
    with counting_inflation() as inflated:
        try:
            parse()
            raised = None
        except Exception as exc:
            raised = exc
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return raised, peak, inflated.bytes


@pytest.mark.parametrize(
    "bomb",
    [hostile_inputs.zip_bomb, hostile_inputs.empty_conversation_bomb],
    ids=["empty objects", "empty conversations"],
)
def test_a_decompression_bomb_is_refused_while_it_inflates(bomb: Callable[[int], bytes]) -> None:
    data = bomb(24 * MiB)
    assert len(data) < 100_000
    raised, peak_mb, inflated = _cost(lambda: reader.parse_export("export.zip", data))
    assert of_type(AlmanacError, raised).type in ("input_too_costly", "invalid_export")
    assert peak_mb < 64, f"{peak_mb:.0f} MB to refuse a {len(data):,}-byte ZIP"
    # refused while inflating: at most the unpacked limit (and zipfile's read-ahead) of 24 MiB
    limit = BUDGET.unpacked_limit(len(data))
    assert inflated <= limit + 64 * 1024, f"{inflated:,} bytes inflated, {limit:,} allowed"


def test_the_ratio_is_checked_on_the_bytes_inflated_not_the_sizes_declared() -> None:
    raised, peak_mb, _ = _cost(
        lambda: reader.parse_export("export.zip", hostile_inputs.empty_conversation_bomb(16 * MiB))
    )
    assert isinstance(raised, InputTooCostly), raised
    assert "once unpacked" in raised.detail
    assert peak_mb < 64


def test_one_conversation_larger_than_its_budget_is_refused_before_it_is_built() -> None:
    budget = InputBudget(max_json_item=256 * 1024)
    payload = b'[{"id": "c", "mapping": {"x": [' + b"{}," * 400_000 + b"{}]}}]"
    stream = BoundedReader(
        io.BytesIO(payload), len(payload), "conversations.json", item_limit=budget.max_json_item
    )
    raised, peak_mb, _ = _cost(lambda: list(stream_json_items(stream, "x").items))
    assert isinstance(raised, InputTooCostly) and "One item" in raised.detail
    assert peak_mb < 32


def test_a_real_export_zip_within_the_budget_is_read() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("conversations.json", chatgpt_export(200, turns=3))
    assert len(reader.parse_export("export.zip", buffer.getvalue())) == 200


def test_a_json_export_may_hold_its_conversations_under_a_key() -> None:
    listed = chatgpt_export(3)
    wrapped = b'{"conversations": ' + listed + b"}"
    assert len(reader.parse_export("conversations.json", wrapped)) == 3


@pytest.mark.parametrize("kind", list(hostile_inputs.MALFORMED_ZIPS))
def test_a_malformed_zip_is_refused_naming_what_is_wrong(kind: str) -> None:
    make, named = hostile_inputs.MALFORMED_ZIPS[kind]
    with pytest.raises(InvalidArchive) as caught:
        reader.parse_export("export.zip", make())
    assert named in caught.value.detail


def test_the_pdf_budget_refuses_too_many_pages_and_too_much_content() -> None:
    budget = PdfBudget("fan-out.pdf", InputBudget(max_pdf_pages=30, max_pdf_content=MiB))
    budget.check_pages(30)
    with pytest.raises(InputTooCostly, match="40 pages"):
        budget.check_pages(40)
    budget.charge(MiB // 2)
    with pytest.raises(InputTooCostly, match="page content"):
        budget.charge(MiB // 2 + 1)
