"""The one sentence splitter (`use_cases.shared.sentences`) every part of Almanac uses."""

from __future__ import annotations

import pytest

from use_cases.shared.sentences import sentence_breaks, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It runs. Then it stops.", ["It runs.", "Then it stops."]),
        # closing quotes and brackets stay with the sentence they close
        ('He said "stop." Then he left.', ['He said "stop."', "Then he left."]),
        ("(It is in SQLite.) The journal follows.", ["(It is in SQLite.)", "The journal follows."]),
        ("Use it.” “Why not?” Then go.", ["Use it.”", "“Why not?”", "Then go."]),
        # a number, an opening bracket or a mark of code starts a sentence too
        ("Set it. 3 workers run.", ["Set it.", "3 workers run."]),
        ("Call it. `make test` runs.", ["Call it.", "`make test` runs."]),
        # after "." a lower-case word goes on: abbreviations, numbers and names with dots
        ("Write the value, e.g. the port. Done.", ["Write the value, e.g. the port.", "Done."]),
        ("Use os.path and 3.5 here. Done.", ["Use os.path and 3.5 here.", "Done."]),
        ("It is ready. then it runs.", ["It is ready. then it runs."]),
        # a known abbreviation never ends a sentence, whatever follows; a word ending the same
        # way does
        ("Fonts, colours, etc. Anything goes.", ["Fonts, colours, etc. Anything goes."]),
        ("Compare A vs. B first.", ["Compare A vs. B first."]),
        ("I play the piano. Then I stop.", ["I play the piano.", "Then I stop."]),
        ("Does it work? Yes it does! Then stop.", ["Does it work?", "Yes it does!", "Then stop."]),
        # marks inside code or markup go on before a lower-case word
        (
            "It must begin with #! followed by a path.",
            ["It must begin with #! followed by a path."],
        ),
        (
            "Give the modified ! in the specification.",
            ["Give the modified ! in the specification."],
        ),
        ("Write {m o}{ ... } both ways.", ["Write {m o}{ ... } both ways."]),
        ("(?!...) — Negative lookahead.", ["(?!...) — Negative lookahead."]),
        ("Use it. Édition 2 follows.", ["Use it.", "Édition 2 follows."]),
        # CJK full stops need no space after them
        ("句子一。句子二！第三？", ["句子一。", "句子二！", "第三？"]),
        ("「はい。」次です。", ["「はい。」", "次です。"]),
        # no sentence end without whitespace after the mark
        ("See www.example.org.Then go.", ["See www.example.org.Then go."]),
        ("", []),
        ("   ", []),
        ("No end at all", ["No end at all"]),
    ],
)
def test_sentences_end_where_a_reader_would_end_them(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_typed_text_starts_a_sentence_in_lower_case_after_a_full_stop() -> None:
    text = "done with it now. how do i remove it? e.g. the junk"
    assert split_sentences(text) == [text]
    assert split_sentences(text, typed=True) == [
        "done with it now.",
        "how do i remove it?",
        "e.g. the junk",
    ]


def test_breaks_are_offsets_into_the_window_and_none_at_its_end() -> None:
    text = "xx One. Two. Three."
    # (end of a sentence with its closing marks, start of the next)
    assert list(sentence_breaks(text, 3)) == [(7, 8), (12, 13)]
    # a break whose next sentence would start at the window's end is not one
    assert list(sentence_breaks(text, 3, 8)) == []
    assert list(sentence_breaks(text, 3, 9)) == [(7, 8)]
