"""A scan's headings as a reader sees them: the title of its first page is the document's
title, not the root of every section, a heading printed over two lines is one heading, and
a section number is written as the document's others are, and a row of symbols set large
heads no section.
OCR gives these lines as a text PDF's are given (`pdf_text.Line`, sizes in points, y up);
the whole loader is tested on real scans in tests/integration/test_ocr.py."""

from __future__ import annotations

from services.knowledge.loaders.pdf_text import (
    Line,
    PageText,
    is_symbol_row,
    joined_headings,
    scan_headings,
    title_apart,
)

BODY = 10.0


def line(text: str, top: float, size: float = BODY) -> Line:
    return Line(text, top, top - size, size)


def texts(page: PageText | None) -> list[str]:
    assert page is not None
    return [line.text for line in page.lines]


def test_a_heading_over_two_lines_of_a_scan_is_one_line() -> None:
    page = PageText(
        (
            line("Configuration files for standard packages", 700, 14),
            line("and classes", 684, 14),
            line("The files below are read at start-up.", 660),
        ),
        842,
        (),
    )
    [joined] = joined_headings([page], [0], BODY)
    assert texts(joined) == [
        "Configuration files for standard packages and classes",
        "The files below are read at start-up.",
    ]


def test_a_word_hyphenated_across_a_heading_s_two_lines_is_whole() -> None:
    page = PageText(
        (
            line("2 Creating document commands and environ-", 700, 14),
            line("ments", 684, 14),
        ),
        842,
        (),
    )
    [joined] = joined_headings([page], [0], BODY)
    assert texts(joined) == ["2 Creating document commands and environments"]


def test_lines_that_are_not_one_heading_stay_apart() -> None:
    page = PageText(
        (
            line("Parking", 700, 14),
            line("Bicycles", 600, 14),  # far below: another heading
            line("1 Introduction", 580, 14),
            line("1.1 Scope", 564, 14),  # numbered: a heading of its own
            line("Badges are handed out", 540),
            line("at the reception desk.", 528),  # body text
            line("Short title.", 500, 14),
            line("Next heading", 484, 14),  # the line before ends a sentence
        ),
        842,
        (),
    )
    [kept] = joined_headings([page], [0], BODY)
    assert texts(kept) == [line.text for line in page.lines]


def test_a_text_page_is_left_as_it_is() -> None:
    page = PageText((line("Two-line", 700, 14), line("heading", 684, 14)), 842, ())
    assert joined_headings([page, None], [], BODY) == [page, None]


def test_the_largest_heading_of_the_first_page_alone_is_the_title() -> None:
    found = [
        [(0, "A Guide to the Site"), (1, "Contents")],
        [(1, "Parking"), (2, "Visitors")],
        [(1, "Cycling")],
    ]
    title, rest = title_apart(found)
    assert title == "A Guide to the Site"
    assert rest == [[(0, "Contents")], [(0, "Parking"), (1, "Visitors")], [(0, "Cycling")]]


def test_no_title_where_a_later_page_has_a_heading_as_large() -> None:
    found = [[(0, "Parking")], [(0, "Cycling"), (1, "Racks")]]
    assert title_apart(found) == (None, found)


def test_no_title_where_the_document_has_no_other_heading() -> None:
    assert title_apart([[(0, "Memo")], []]) == (None, [[(0, "Memo")], []])
    assert title_apart([]) == (None, [])


def test_a_section_number_is_written_as_most_of_the_document_s_are() -> None:
    found = [
        [(0, "1 Introduction"), (1, "1.1 Scope"), (1, "1.2 Overview")],
        [(1, "1.3. Further information"), (1, "1.4 Policy"), (1, "A.1. Tables")],
    ]
    assert scan_headings(found)[1] == [
        (1, "1.3 Further information"),
        (1, "1.4 Policy"),
        (1, "A.1 Tables"),
    ]
    dotted = [[(0, "1.1. Scope"), (0, "1.2. Overview"), (0, "1.3 Further information")]]
    assert scan_headings(dotted) == dotted  # most numbers have their dot: left as read


def test_a_row_of_symbols_heads_no_section_of_a_scan() -> None:
    found = [
        [(0, "2 Creating commands"), (1, "2.4 Environments"), (1, "E{~_}{{UP}{DOWN}}")],
        [(1, ". _ sin(3.5) -3 _"), (1, "#1_{1}\\ldots#1_{#2}%"), (1, "2.5 Arguments")],
    ]
    assert scan_headings(found) == [
        [(0, "2 Creating commands"), (1, "2.4 Environments")],
        [(1, "2.5 Arguments")],
    ]


def test_headings_with_a_mark_among_words_stay_headings() -> None:
    for heading in (
        "C# and F#",
        "Using <div> elements",
        "fonttext.cfg",
        "2.2 Using 'docstrip' and 'doc'",
        "100% renewable",
        "\\IfBooleanTF{#1}%",  # code of mostly letters: left as read (see is_symbol_row)
        "\\fi",
    ):
        assert not is_symbol_row(heading), heading
    for row in ("E{~_}{{UP}{DOWN}}", "*O '@@®!1@", "{ } # % _"):
        assert is_symbol_row(row), row


def test_a_heading_written_without_its_dot_still_splits_the_line_read_with_it() -> None:
    from services.knowledge.loaders.pdf import split_at_titles

    # the heading as `scan_headings` wrote it, the page's line as OCR read it
    text = "1.2 Overview\nWhat it covers.\n1.3. Further information\nWhere to read more."
    assert split_at_titles(text, (), [("1.2 Overview",), ("1.3 Further information",)]) == [
        (("1.2 Overview",), "What it covers."),
        (("1.3 Further information",), "Where to read more."),
    ]
    # another number is another heading
    assert split_at_titles(
        "1.4. Further information\nMore.", ("A",), [("1.3 Further information",)]
    ) == [(("1.3 Further information",), "1.4. Further information\nMore.")]


def test_a_sentence_ending_in_a_footnote_mark_heads_no_section_of_a_scan() -> None:
    found = [
        [(0, "Guide for authors"), (1, "All rights reserved.*"), (1, "Contents")],
        [(1, "© Copyright 1995-2022, The Team.* All rights reserved.'"), (1, "Is it a class?")],
    ]
    assert scan_headings(found) == [
        [(0, "Guide for authors"), (1, "Contents")],
        [(1, "Is it a class?")],
    ]
    kept = [[(1, "Notes*"), (1, "2.7 'Embellishments'")]]  # no sentence's end before the mark
    assert scan_headings(kept) == kept


def test_a_scan_s_short_lines_right_of_its_text_are_its_margin_pieces() -> None:
    from services.knowledge.loaders.pdf_text import margin_pieces

    lines = [
        (72.0, "The following commands can be used when you want"),
        (470.4, "New feature"),
        (470.6, "1995/12/01"),
        (470.0, "a line of more than three words"),
        (470.0, "—"),
        (300.0, "Short"),
    ]
    assert margin_pieces(lines, 595.0) == ((470, "New feature"), (471, "1995/12/01"))
