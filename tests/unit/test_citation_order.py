"""Citation numbers as a reader gets them: 1..n in the order of first use."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_ai.messages import (
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
)

from use_cases.chat.citations import CitationOrder, NumberedStream, NumberedText, numbered_answer


@dataclass(frozen=True)
class Cited:
    number: int
    title: str


def test_passages_are_numbered_in_the_order_the_answer_first_cites_them() -> None:
    answer = "Rotate on compromise [3]. Use 14 characters [1]. Rotation is dropped [3][5]."
    text, sources = numbered_answer(answer, [Cited(1, "a"), Cited(3, "c"), Cited(5, "e")])
    assert text == "Rotate on compromise [1]. Use 14 characters [2]. Rotation is dropped [1][3]."
    assert sources == (Cited(1, "c"), Cited(2, "a"), Cited(3, "e"))


def test_sources_cited_otherwise_come_after_in_the_tools_order() -> None:
    """A table cited by name (or an advice's `cited_passages` only) has no [n] in the text:
    it is listed after the passages the text numbers, with the next numbers."""
    order = CitationOrder.of(["Per [table: staff] and [4]."])
    listed = order.sources([Cited(2, "table: staff"), Cited(4, "doc")])
    assert listed == [Cited(1, "doc"), Cited(2, "table: staff")]


def test_a_sources_list_in_the_text_is_renumbered_and_put_in_order() -> None:
    answer = "Do this [4], then that [2].\n\nSources:\n- [2] Second, B\n- [4] First, A\n\nEnd."
    text, _ = numbered_answer(answer, [])
    assert (
        text == "Do this [1], then that [2].\n\nSources:\n- [1] First, A\n- [2] Second, B\n\nEnd."
    )


def test_an_answer_without_citations_is_unchanged() -> None:
    assert numbered_answer("I could not find that [in the docs].", []) == (
        "I could not find that [in the docs].",
        (),
    )


def test_a_stream_renumbers_markers_split_across_chunks_and_drops_invented_ones() -> None:
    stream = NumberedStream(CitationOrder(), lambda: {1, 3})
    chunks = [
        "Rotate on compromise [",
        "3",
        "]. Tell the auditors [9",
        "]",
        ". Use 14 [1",
        "]",
        ".",
    ]
    pieces = [stream.feed(chunk) for chunk in chunks] + [stream.flush()]
    assert "".join(pieces) == "Rotate on compromise [1]. Tell the auditors. Use 14 [2]."
    assert pieces[0] == "Rotate on compromise"  # the space and "[" wait for what follows
    assert all("[9" not in piece for piece in pieces)


def test_a_stream_releases_what_it_held_when_no_marker_follows() -> None:
    stream = NumberedStream(CitationOrder(), lambda: {1})
    assert stream.feed("a list [") == "a list"
    assert stream.feed("x] and [1234") == " [x] and [1234"
    assert stream.feed(" more ") == " more"
    assert stream.flush() == " "


def test_turn_events_stream_with_the_numbers_the_answer_is_stored_with() -> None:
    numbered = NumberedText(lambda: {1, 2, 3})
    events = [
        PartStartEvent(index=0, part=ToolCallPart("search", {"query": "q"})),
        PartStartEvent(index=0, part=TextPart("Rotate on compromise [")),  # a new response
        PartDeltaEvent(index=0, delta=TextPartDelta("3]. Use 14 [1")),
        PartDeltaEvent(index=0, delta=TextPartDelta("] [")),
        PartEndEvent(index=0, part=TextPart("Rotate on compromise [3]. Use 14 [1] [")),
    ]
    shown = [out for event in events for out in numbered.events(event)]
    text = [
        _text(e)
        for e in shown
        if isinstance(e, PartStartEvent | PartDeltaEvent)
        and not isinstance(getattr(e, "part", None), ToolCallPart)
    ]
    assert "".join(text) == "Rotate on compromise [1]. Use 14 [2] ["
    end = shown[-1]
    assert isinstance(end, PartEndEvent) and isinstance(end.part, TextPart)
    assert end.part.content == "".join(text)
    # The held " [" went out as one more delta, just before the part ended.
    assert isinstance(shown[-2], PartDeltaEvent) and _text(shown[-2]) == " ["


def _text(event: PartStartEvent | PartDeltaEvent) -> str:
    """The text a text part's start or delta carries (any other part fails the test)."""
    if isinstance(event, PartStartEvent):
        assert isinstance(event.part, TextPart)
        return event.part.content
    assert isinstance(event.delta, TextPartDelta)
    return event.delta.content_delta


def test_each_model_response_is_numbered_on_its_own() -> None:
    """The answer is the last response's text: a draft sent back to the model does not take
    the numbers the answer will use."""
    numbered = NumberedText(lambda: {1, 2})
    first = numbered.events(PartStartEvent(index=0, part=TextPart("Draft [2].")))
    second = numbered.events(PartStartEvent(index=0, part=TextPart("Answer [1] and [2].")))
    assert first[0].part.content == "Draft [1]."
    assert second[-1].part.content == "Answer [1] and [2]."


TEXTS = [
    "Rotate on compromise [3]. Use 14 characters [1].\n\n**Sources**\n[1] Policy, 2. Passwords\n"
    "[3] Policy, 1. Summary",
    "A [2] and [1].\n\nSources:\n- [1] First\n- [2] Second\n\nA closing line [2].\n",
    "[2] opens a line, [1] follows.\n- a bullet\n- [1] an entry\n[x] not a marker [12] [1",
    "No citations at all, just [brackets] and a list:\n- one\n- two\n",
]


def test_streamed_in_any_pieces_the_text_is_what_the_stored_answer_becomes() -> None:
    """What streams adds up to `renumbered` of the whole text, however the text is cut
    (including a Sources list the stream holds back and sorts), when every marker is known."""
    for text in TEXTS:
        expected = CitationOrder.of([text]).renumbered(text)
        for size in (1, 2, 3, 5, 8, len(text)):
            stream = NumberedStream(CitationOrder(), lambda: {1, 2, 3, 12})
            pieces = [stream.feed(text[i : i + size]) for i in range(0, len(text), size)]
            assert "".join(pieces) + stream.flush() == expected, (text, size)


def test_a_streamed_sources_line_naming_an_invented_passage_goes_whole() -> None:
    stream = NumberedStream(CitationOrder(), lambda: {1})
    text = "Fact [1].\n\nSources\n[9] Invented\n[1] Real\n"
    assert stream.feed(text) + stream.flush() == "Fact [1].\n\nSources\n[1] Real\n"
