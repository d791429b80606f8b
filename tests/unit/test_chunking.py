"""HeadingChunker: parent sections for the agent, small overlapping chunks for retrieval."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest

from services.knowledge.chunking import HeadingChunker, estimate_tokens
from services.knowledge.loaders import FileLoader
from use_cases.knowledge.domain import ParsedDocument, ParsedSection, SectionDraft
from use_cases.knowledge.ports import Chunker

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "docs"
PATH = ("Handbook", "Travel")


def document(*sections: ParsedSection) -> ParsedDocument:
    return ParsedDocument(title="Handbook", sections=sections)


def sentences(count: int, start: int = 0) -> list[str]:
    """Distinct, short sentences (about 10 estimated tokens each)."""
    return [
        f"Rule number {n} says travellers book trains before flights."
        for n in range(start, start + count)
    ]


def prose(count: int, start: int = 0) -> str:
    return " ".join(sentences(count, start))


def only(drafts: list[SectionDraft]) -> SectionDraft:
    assert len(drafts) == 1
    return drafts[0]


# --- token estimate ------------------------------------------------------------------------


def test_token_estimate_is_about_four_thirds_of_the_word_count() -> None:
    assert estimate_tokens("one two three four five six seven eight nine ten") == 13
    assert estimate_tokens("") == 0


def test_token_estimate_does_not_count_unspaced_text_as_one_token() -> None:
    url = "https://example.com/" + "a" * 200
    assert estimate_tokens(url) >= 40
    assert estimate_tokens("東京都の会議室は十階にあります") >= 15


# --- small and empty sections --------------------------------------------------------------


def test_a_small_section_is_one_parent_and_one_identical_chunk() -> None:
    text = "Book trains for trips under four hours."
    draft = only(HeadingChunker().chunk(document(ParsedSection(PATH, f"  {text}\n"))))
    assert draft == SectionDraft(heading_path=PATH, text=text, chunks=(text,))


@pytest.mark.parametrize("text", ["", "   \n\n", "Travel", "## Travel", "# Handbook\n## Travel"])
def test_sections_with_no_text_beyond_their_heading_are_dropped(text: str) -> None:
    kept = ParsedSection(("Handbook", "Meals"), "Meals are reimbursed up to 30 EUR.")
    drafts = HeadingChunker().chunk(document(ParsedSection(PATH, text), kept))
    assert [draft.heading_path for draft in drafts] == [("Handbook", "Meals")]


def test_the_chunker_satisfies_the_port() -> None:
    chunker: Chunker = HeadingChunker()
    assert chunker.chunk(document()) == []


# --- retrieval chunks ----------------------------------------------------------------------


def test_long_sections_are_cut_into_chunks_no_bigger_than_chunk_tokens() -> None:
    chunker = HeadingChunker(chunk_tokens=60, overlap_tokens=12)
    draft = only(chunker.chunk(document(ParsedSection(PATH, prose(40)))))

    assert len(draft.chunks) > 5
    assert all(estimate_tokens(chunk) <= 60 for chunk in draft.chunks)
    assert all(estimate_tokens(chunk) >= 30 for chunk in draft.chunks[:-1])


def test_chunks_end_on_sentence_boundaries_and_overlap_by_whole_sentences() -> None:
    chunker = HeadingChunker(chunk_tokens=60, overlap_tokens=12)
    draft = only(chunker.chunk(document(ParsedSection(PATH, prose(40)))))

    for previous, current in pairwise(draft.chunks):
        assert previous.endswith(".")
        assert current.startswith("Rule number")
        first_sentence = current.split(". ")[0] + "."
        assert previous.endswith(first_sentence)  # the overlap repeats the last sentence


def test_every_sentence_is_retrievable_from_some_chunk() -> None:
    chunker = HeadingChunker(chunk_tokens=60, overlap_tokens=12)
    draft = only(chunker.chunk(document(ParsedSection(PATH, prose(40)))))
    for sentence in sentences(40):
        assert any(sentence in chunk for chunk in draft.chunks)


def test_chunks_are_verbatim_pieces_of_their_parent_and_never_cut_words() -> None:
    text = "\n\n".join(prose(6, start=10 * n) for n in range(6))
    chunker = HeadingChunker(chunk_tokens=50, overlap_tokens=10)
    for draft in chunker.chunk(document(ParsedSection(PATH, text))):
        for chunk in draft.chunks:
            start = draft.text.index(chunk)
            end = start + len(chunk)
            assert start == 0 or draft.text[start - 1].isspace()
            assert end == len(draft.text) or draft.text[end].isspace()


def test_a_sentence_longer_than_a_chunk_is_cut_between_words_with_overlap() -> None:
    words = [f"word{n}" for n in range(300)]
    chunker = HeadingChunker(chunk_tokens=40, overlap_tokens=8)
    draft = only(chunker.chunk(document(ParsedSection(PATH, " ".join(words)))))

    assert all(estimate_tokens(chunk) <= 40 for chunk in draft.chunks)
    pieces = [chunk.split() for chunk in draft.chunks]
    assert all(set(piece) <= set(words) for piece in pieces)  # whole words only
    for previous, current in pairwise(pieces):
        assert current[0] in previous  # overlapping words carry context over
    assert {word for piece in pieces for word in piece} == set(words)


def test_paragraph_boundaries_are_preferred_over_sentence_boundaries() -> None:
    paragraphs = [prose(3, start=3 * n) for n in range(8)]  # ~30 tokens each
    chunker = HeadingChunker(chunk_tokens=80, overlap_tokens=0)
    draft = only(chunker.chunk(document(ParsedSection(PATH, "\n\n".join(paragraphs)))))

    for chunk in draft.chunks:
        assert chunk.split("\n\n")[0] in paragraphs  # every chunk starts a paragraph
        assert chunk.split("\n\n")[-1] in paragraphs  # ... and ends one


def test_table_rows_are_never_split_across_chunks() -> None:
    rows = [f"| svc-{n:03d} | rotates every {n} days | owned by team {n} |" for n in range(40)]
    text = "Service accounts:\n\n| Account | Rotation | Owner |\n|---|---|---|\n" + "\n".join(rows)
    chunker = HeadingChunker(chunk_tokens=60, overlap_tokens=12)
    draft = only(chunker.chunk(document(ParsedSection(PATH, text))))

    assert len(draft.chunks) > 3
    for chunk in draft.chunks:
        for line in chunk.split("\n"):
            if "svc-" in line:
                assert line in rows


def test_a_code_block_that_fits_stays_in_one_chunk() -> None:
    code = "```python\n" + "\n".join(f"step_{n}()  # do {n}" for n in range(8)) + "\n```"
    text = f"{prose(4)}\n\n{code}\n\n{prose(4, start=4)}"
    chunker = HeadingChunker(chunk_tokens=60, overlap_tokens=10)
    draft = only(chunker.chunk(document(ParsedSection(PATH, text))))

    assert any(code in chunk for chunk in draft.chunks)


def test_unspaced_cjk_text_is_still_cut_into_small_chunks_at_sentence_ends() -> None:
    text = "会議室の予約は前日までに行ってください。" * 40
    chunker = HeadingChunker(chunk_tokens=50, overlap_tokens=8)
    chunks = [
        chunk
        for draft in chunker.chunk(document(ParsedSection(PATH, text)))
        for chunk in draft.chunks
    ]
    assert len(chunks) > 10
    assert all(estimate_tokens(chunk) <= 50 for chunk in chunks)
    assert all(chunk.endswith("。") for chunk in chunks)


# --- parent sections -----------------------------------------------------------------------


def test_very_long_sections_become_several_parents_with_the_same_heading_path() -> None:
    paragraphs = [prose(5, start=5 * n) for n in range(30)]  # ~50 tokens each
    text = "\n\n".join(paragraphs)
    chunker = HeadingChunker(chunk_tokens=60, overlap_tokens=12, max_section_tokens=300)
    drafts = chunker.chunk(document(ParsedSection(PATH, text)))

    assert len(drafts) >= 5
    assert all(draft.heading_path == PATH for draft in drafts)
    assert all(estimate_tokens(draft.text) <= 300 for draft in drafts)
    # parents split on paragraph boundaries and together are the whole section
    assert "\n\n".join(draft.text for draft in drafts) == text
    for draft in drafts:
        assert all(chunk in draft.text for chunk in draft.chunks)


def test_a_section_within_the_parent_limit_stays_one_parent() -> None:
    text = "\n\n".join(prose(5, start=5 * n) for n in range(4))
    chunker = HeadingChunker(chunk_tokens=60, overlap_tokens=12, max_section_tokens=1200)
    draft = only(chunker.chunk(document(ParsedSection(PATH, text))))
    assert draft.text == text
    assert len(draft.chunks) > 1


def test_invalid_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        HeadingChunker(chunk_tokens=100, overlap_tokens=100)
    with pytest.raises(ValueError):
        HeadingChunker(chunk_tokens=100, max_section_tokens=50)
    with pytest.raises(ValueError):
        HeadingChunker(chunk_tokens=0)


# --- end to end with a loader --------------------------------------------------------------


def test_a_loaded_markdown_file_chunks_into_its_heading_sections_deterministically() -> None:
    data = (FIXTURES / "password-policy.md").read_bytes()
    parsed = FileLoader().load("password-policy.md", data)
    first = HeadingChunker().chunk(parsed)
    second = HeadingChunker().chunk(parsed)

    assert first == second
    assert [draft.heading_path for draft in first] == [
        section.heading_path for section in parsed.sections
    ]
    assert all(len(draft.chunks) == 1 for draft in first)


def test_chunking_is_deterministic_for_long_mixed_text() -> None:
    text = "\n\n".join([prose(12), "- item one\n- item two\n- item three", prose(20, start=12)] * 5)
    parsed = document(ParsedSection(PATH, text))
    chunker = HeadingChunker(chunk_tokens=50, overlap_tokens=10, max_section_tokens=200)
    assert chunker.chunk(parsed) == chunker.chunk(parsed)
    assert re.search(r"\S", "".join(d.text for d in chunker.chunk(parsed)))
