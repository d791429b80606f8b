"""Pacing: a text delta of several words goes a word at a time, so an answer that arrives
whole (the offline model's sentences) is seen being written."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest
from pydantic_ai.messages import PartDeltaEvent, PartStartEvent, TextPart, TextPartDelta

from backend.api import streams
from backend.api.streams import Pacer, paced_chat
from use_cases.chat.chat_turns import ChatEvent


async def _pieces(pacer: Pacer, text: str) -> list[str]:
    return [piece async for piece in pacer.pieces(text)]


async def test_a_sentence_goes_a_word_at_a_time_and_adds_up_to_itself() -> None:
    text = "Passwords change only on compromise [1].\n\nThey have 14 characters. "
    pieces = await _pieces(Pacer(0.001), text)
    assert "".join(pieces) == text
    assert pieces[:3] == ["Passwords", " change", " only"]
    assert len(pieces) == len(text.split())
    assert pieces[-1] == " characters. "  # the trailing space goes with the last word


async def test_a_provider_streaming_a_word_per_delta_is_not_slowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(streams.asyncio, "sleep", sleep)
    pacer = Pacer(0.05)
    for word in ["Passwords", " change", " only ", "\n"]:
        assert await _pieces(pacer, word) == [word]
    assert slept == []
    assert await _pieces(pacer, "two words") == ["two", " words"]
    assert slept == [0.05]  # the same pacer does wait between the words of one delta


async def test_no_answer_is_paced_beyond_its_budget() -> None:
    pacer = Pacer(0.01, budget_s=0.03)
    text = " ".join(f"w{i}" for i in range(200))
    pieces = await _pieces(pacer, text)
    assert "".join(pieces) == text
    # A few words a delay apart, then the rest at once (and the next delta whole).
    assert 2 <= len(pieces) <= 10
    assert await _pieces(pacer, "two words") == ["two words"]


async def test_off_sends_text_as_it_comes() -> None:
    assert await _pieces(Pacer.from_ms(0), "several words here") == ["several words here"]


async def test_chat_events_carry_the_words_as_deltas_of_the_same_part() -> None:
    async def events() -> AsyncGenerator[ChatEvent, None]:
        yield PartStartEvent(index=0, part=TextPart("One two [1]. "))
        yield PartDeltaEvent(index=0, delta=TextPartDelta(content_delta="Three four."))

    out = [event async for event in paced_chat(events(), Pacer(0.001))]
    assert isinstance(out[0], PartStartEvent) and isinstance(out[0].part, TextPart)
    assert out[0].part.content == "One"
    texts = [out[0].part.content] + [
        _delta_text(e) for e in out[1:] if isinstance(e, PartDeltaEvent)
    ]
    assert texts == ["One", " two", " [1]. ", "Three", " four."]
    assert all(isinstance(e, PartStartEvent | PartDeltaEvent) and e.index == 0 for e in out)


def _delta_text(event: PartDeltaEvent) -> str:
    assert isinstance(event.delta, TextPartDelta)
    return event.delta.content_delta
