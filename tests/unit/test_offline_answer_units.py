"""Answers made of a real manual's units: a statement kept whole (a sentence that only
restates the question, asks a question of its own (a FAQ's) or introduces something is
followed by the next sentence of its section, as is one the next sentence continues: "This
is because ..."), code a sentence announces, footnote labels that are no citations, code
spans and undated sources quoted as they are; long sections shortlisted before they are
scored by meaning; no confidence without the kind of fact asked for; a definition's term kept
with its description; the remedy after a problem the message reports; links that state
nothing left out."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from services.offline.candidates import _shortlist
from services.offline.choose import from_one_place
from services.offline.compose import compose_documents
from services.offline.confidence import action_held, asked_action
from services.offline.question import states_quantity
from services.offline.read import units_of
from services.offline.read_lines import fill_width
from services.offline.render import cited_body
from services.offline.score import Scored, score_units
from services.offline.text import content_stems, stem
from services.offline.tuning import DEFAULT_TUNING


def _texts(text: str) -> list[str]:
    """The units of one section's text, as sentences."""
    return [u.text for u in units_of(text, set(), 0, 0)]


def _hit(text: str, number: int = 1, title: str = "Manual") -> dict[str, Any]:
    return {
        "number": number,
        "document_id": number,
        "title": title,
        "section": "Transactions",
        "source": "manual.html",
        "text": text,
        "bm25_rank": 1,
        "vector_distance": 0.3,
    }


def _body(answer_text: str) -> str:
    return answer_text.split("**Sources**")[0]


def test_a_sentence_that_only_restates_the_question_brings_the_next_one() -> None:
    hit = _hit(
        "Transactions started with BEGIN do not nest. "
        "Use the SAVEPOINT command to create nested transactions. "
        "Journal files are kept beside the database file."
    )
    answer = compose_documents("can transactions started with BEGIN nest?", [hit])
    assert answer.found
    assert "SAVEPOINT" in _body(answer.text)


def test_a_question_in_the_text_is_answered_by_what_follows_it_never_quoted_alone() -> None:
    hit = _hit(
        "Can I use the library in a commercial product without paying royalties? "
        "Yes, the library is in the public domain. "
        "No permission is needed to copy it."
    )
    answer = compose_documents("can we ship the library in our commercial product for free?", [hit])
    body = _body(answer.text)
    assert answer.found
    assert "public domain" in body
    assert "royalties?" not in body


def test_a_sentence_the_next_one_continues_brings_it_along() -> None:
    hit = _hit(
        "Key handlers bound with bind() often never fire when a key is pressed on the widget. "
        "This is because the widget does not have the keyboard focus. "
        "Fonts are configured separately."
    )
    answer = compose_documents("why do my key handlers bound with bind() never fire?", [hit])
    assert "keyboard focus" in _body(answer.text)


def test_a_sentence_with_its_own_content_stands_alone() -> None:
    hit = _hit(
        "The rollback journal is stored in the same directory as the database file under the "
        "database name with -journal appended. "
        "Temporary tables use their own files."
    )
    answer = compose_documents("where is the rollback journal stored?", [hit])
    assert answer.found
    assert "Temporary tables" not in _body(answer.text)


def test_long_sections_are_shortlisted_to_the_sentences_sharing_the_question_words() -> None:
    filler = " ".join(f"Paragraph {i} talks about colour number {i}." for i in range(150))
    text = f"{filler} The checkpoint runs when the log reaches 1000 pages. It then restarts."
    units = units_of(text, set(), 0, 0)
    labels = ["Manual"] * len(units)
    kept, kept_labels = _shortlist(
        units, labels, content_stems("when does the checkpoint run"), DEFAULT_TUNING.choose
    )
    assert len(units) > DEFAULT_TUNING.choose.max_candidates
    assert len(kept) == len(kept_labels) == DEFAULT_TUNING.choose.max_candidates
    texts = [u.text for u in kept]
    assert any("checkpoint runs" in t for t in texts)
    assert any(t.startswith("It then restarts") for t in texts)  # the sentence after the best
    assert [u.position for u in kept] == sorted(u.position for u in kept)


def test_code_a_sentence_announces_is_joined_to_it() -> None:
    text = (
        "To start a fresh log file on every run, pass the mode to the call:\n\n"
        "```\nlogging.basicConfig(filename='example.log', filemode='w')\n```\n\n"
        "Some other remark.\n\n```\nprint('unannounced code is skipped')\n```\n"
    )
    units = units_of(text, set(), 0, 0)
    assert [u.shown for u in units] == [
        "To start a fresh log file on every run, pass the mode to the call: "
        "`logging.basicConfig(filename='example.log', filemode='w')`",
        "Some other remark.",
    ]
    assert "filemode" not in units[0].stems  # scored by the sentence's own words
    answer = compose_documents("how do i start a fresh log file on every run?", [_hit(text)])
    assert "`logging.basicConfig(filename='example.log', filemode='w')`" in _body(answer.text)


def test_a_line_a_callout_marks_is_shown_with_the_item_that_explains_it() -> None:
    text = (
        "Undo a commit, making it a topic branch:\n\n"
        "```\n$ git branch topic/wip          <1>\n$ git reset --hard HEAD~3       <2>\n```\n\n"
        "1. Create the topic branch off the current HEAD.\n\n"
        "2. Rewind the master branch to get rid of those three commits.\n\n"
        "```\nf(1)\n```\n\n1. A list after unmarked code.\n"
    )
    shown = [u.shown for u in units_of(text, set(), 0, 0)]
    assert shown[1:] == [
        "(1) Create the topic branch off the current HEAD. `$ git branch topic/wip`",
        "(2) Rewind the master branch to get rid of those three commits. "
        "`$ git reset --hard HEAD~3`",
        "(1) A list after unmarked code.",  # no marker, no code
    ]
    answer = compose_documents(
        "how do i rewind the master branch to drop three commits?", [_hit(text)]
    )
    assert "`$ git reset --hard HEAD~3`" in _body(answer.text)


def test_code_spans_are_quoted_with_their_own_characters_and_prose_html_stays_inert() -> None:
    # passages arrive with tag openers escaped (use_cases.tables.markdown.escape_html)
    hit = _hit("Write the type as `&lt;type>` in the header, never &lt;script> tags.")
    body = _body(compose_documents("how do i write the type in the header?", [hit]).text)
    assert "`<type>`" in body  # a code span shows its characters literally
    assert "&lt;script>" in body  # prose: Markdown shows the escaped tag as text


def test_a_placeholder_in_prose_is_quoted_as_written_and_markup_stays_escaped() -> None:
    hit = _hit(
        "To see what your process sees, look into /proc/&lt;PID>/environ. "
        "Go back with HEAD~&lt;n> at most, never with &lt;b>bold&lt;/b> text."
    )
    body = _body(compose_documents("where do i see the environment of the process?", [hit]).text)
    assert "`/proc/<PID>/environ`" in body  # the document's characters, inert in a code span
    assert "&lt;PID>" not in body
    body = _body(compose_documents("how far back can i go with HEAD~?", [hit]).text)
    assert "`HEAD~<n>`" in body
    assert "&lt;b>bold&lt;/b>" in body  # an element of HTML: escaped as it came


_EXAMPLES = (
    "This command extracts the contents of an archive.\n\n"
    "```\n# Extract entire archive\n$ borg extract /path/to/repo::my-files\n\n"
    "# Extract the &quot;src&quot; directory but exclude object files\n"
    "$ borg extract /path/to/repo::my-files home/USERNAME/src \\\n"
    "    --exclude '*.o'\n"
    "# Restore a raw device (must not be mounted at that time)\n"
    "$ borg extract --stdout /path/to/repo::my-sdx | dd of=/dev/sdx bs=10M\n```\n"
)


def test_an_example_blocks_comments_are_sentences_shown_with_their_commands() -> None:
    units = units_of(_EXAMPLES, set(), 0, 0)
    assert [u.text for u in units][1:] == [
        "Extract entire archive",
        "Extract the &quot;src&quot; directory but exclude object files",
        "Restore a raw device (must not be mounted at that time)",
    ]
    assert units[1].code == "$ borg extract /path/to/repo::my-files"
    # a command's continuation line stays with it, indentation kept: a block, shown as one
    assert units[2].code == (
        "$ borg extract /path/to/repo::my-files home/USERNAME/src \\\n    --exclude '*.o'"
    )
    assert units[2].shown.endswith(
        "```\n$ borg extract /path/to/repo::my-files home/USERNAME/src \\\n    --exclude '*.o'\n```"
    )
    assert "extract" in units[3].context and "dd" in units[3].context  # the command's words
    answer = compose_documents("how do i restore a raw device?", [_hit(_EXAMPLES)])
    assert "`$ borg extract --stdout /path/to/repo::my-sdx | dd of=/dev/sdx bs=10M`" in (
        _body(answer.text)
    )


def test_comments_over_code_that_runs_no_command_are_no_steps() -> None:
    text = (
        "The sort is stable:\n\n```\n# sort by age, oldest first\nrecords = sorted(data)\n"
        "# then by name\nnames = [r.name for r in records]\n```\n"
    )
    assert [u.text for u in units_of(text, set(), 0, 0)] == ["The sort is stable:"]


def test_a_block_a_sentence_announces_comes_whole_cut_at_a_line_past_the_bound() -> None:
    bound = DEFAULT_TUNING.read.block_chars
    lines = [f"export SETTING_{k}=value-{k:03d}" for k in range(60)]
    text = "Put these lines in the script:\n\n```\n" + "\n".join(lines) + "\n```\n"
    (unit,) = units_of(text, set(), 0, 0)
    shown = unit.code.split("\n")
    assert shown == lines[: len(shown)]  # whole lines, in order, none cut inside
    assert bound - len(lines[0]) <= len(unit.code) <= bound + len(lines[0])
    answer = _body(compose_documents("what lines go in the script?", [_hit(text)]).text)
    assert answer.startswith("Put these lines in the script [1]:\n```\nexport SETTING_0=")
    assert answer.rstrip().endswith("```")


def test_an_answer_quotes_one_place_and_cites_another_as_see_also() -> None:
    hits = [
        _hit("Undo the last commit and keep its changes: reset softly. They stay staged.", 1),
        _hit("Throw away the last commit and its changes: reset hard.", 2, "Discarding work"),
    ]
    units = [u for i, h in enumerate(hits) for u in units_of(h["text"], set(), i, i)]
    soft, staged, hard = (Scored(u, 1.0, 1.0 - k / 10, True) for k, u in enumerate(units))
    kept, elsewhere = from_one_place([soft, hard, staged])
    assert kept == [soft, staged] and elsewhere == [[hard]]  # one passage, the other apart
    body = cited_body("how do i undo the last commit?", kept, hits, {}, None, elsewhere)
    answer, see_also = _body(body).split("\n\nSee also: ")
    assert "reset softly [1]" in answer and "staged [1]" in answer
    assert "reset hard" not in answer  # another section's instruction is never spliced in
    assert see_also.strip() == "Throw away the last commit and its changes: reset hard [2]."
    assert "[2] Discarding work" in body  # and cited among the sources


def test_a_disagreeing_sentence_of_another_place_is_quoted_once() -> None:
    hits = [
        _hit("Passwords must be at least 12 characters long. Rotate them yearly.", 1, "Security"),
        _hit("Passwords must be at least 8 characters long for staff accounts.", 2, "IT guide"),
    ]
    body = _body(compose_documents("how long must passwords be?", hits).text)
    assert body.startswith("These sources disagree: ")
    # each side quoted once: beside the answer, never again as "see also"
    assert body.count("Passwords must be at least 12 characters long [1]") == 1
    assert body.count("Passwords must be at least 8 characters long for staff accounts [2]") == 1


def test_the_action_a_how_to_question_asks_for_is_looked_for_in_the_quoted_place() -> None:
    assert asked_action("How do I undo the last commit but keep my changes?") == "undo"
    assert asked_action("how to exclude caches from a backup") == stem("exclude")
    assert asked_action("How can I get the version?") is None  # no action named
    assert asked_action("what does prune do?") is None
    undo, hard = (
        Scored(u, 1.0, 1.0, True)
        for u in units_of(
            "Undo the last commit with reset softly. Discard it: reset hard.", set(), 0, 0
        )
    )
    asked = "how do I undo the last commit?"
    assert action_held(asked, [undo]) == 1.0
    assert action_held(asked, [hard]) == 0.0  # about the commit, not about undoing it
    assert action_held("what is a commit?", [hard]) == 1.0  # nothing asked to be done


def test_an_answer_without_the_kind_of_fact_asked_for_is_never_confident() -> None:
    cap = DEFAULT_TUNING.confidence.untyped_cap

    hit = _hit(
        "Host parameters are numbered from one upwards in the order they appear. "
        "Named host parameters start with a colon."
    )
    answer = compose_documents("how many host parameters can one statement hold?", [hit])
    assert answer.found and answer.confidence <= cap
    stated = _hit("One statement can hold at most 32766 host parameters.")
    counted = compose_documents("how many host parameters can one statement hold?", [stated])
    assert counted.found and counted.confidence > cap


def test_an_undated_source_line_shows_no_date() -> None:
    answer = compose_documents(
        "can transactions started with BEGIN nest?",
        [_hit("Transactions started with BEGIN do not nest. Use SAVEPOINT instead.")],
    )
    sources = answer.text.split("**Sources**")[1]
    assert sources.strip() == "[1] Manual, Transactions"
    dated = {**_hit("Transactions started with BEGIN do not nest."), "updated_at": "2025-01-02"}
    dated_answer = compose_documents("can transactions started with BEGIN nest?", [dated])
    assert dated_answer.text.endswith("[1] Manual, Transactions (2025-01-02)")


def test_a_footnotes_own_label_is_not_quoted_as_a_citation() -> None:
    texts = [u.text for u in units_of("[3] The user agent for MSIE 6 is Mozilla.", set(), 0, 0)]
    assert texts == ["The user agent for MSIE 6 is Mozilla."]


def test_a_soft_wrapped_sentence_is_one_unit_whatever_its_next_line_starts_with() -> None:
    text = (
        "Whenever a document starts with \\documentstyle, rather than with\n"
        "\\documentclass, it is processed in compatibility mode.\n"
        "Despite the\n"
        '"comma" in its name, the delimiter may be any character.\n'
        "The role may be inferred (as above; the\n"
        "*default role* is used) or given explicitly.\n"
        "Tabs in the source are\n"
        "`converted to spaces` before parsing.\n"
        "Due to this, pycodestyle will raise\n"
        "`E203 whitespace before ':'` warnings.\n"
        "Why not read more on using\n"
        "_Black_ in the docs?\n"
    )
    assert _texts(text) == [
        "Whenever a document starts with \\documentstyle, rather than with \\documentclass, "
        "it is processed in compatibility mode.",
        'Despite the "comma" in its name, the delimiter may be any character.',
        "The role may be inferred (as above; the default role is used) or given explicitly.",
        "Tabs in the source are `converted to spaces` before parsing.",
        "Due to this, pycodestyle will raise `E203 whitespace before ':'` warnings.",
        "Why not read more on using _Black_ in the docs?",
    ]


def test_a_sentence_a_blank_line_broke_is_one_unit() -> None:
    # A PDF's page or column break: "... must be present" / "" / "if the optional ...".
    text = (
        "The date should be given in the form yyyy/mm/dd and must be present\n"
        "\n"
        "if the optional argument is used.\n"
        "\n"
        "A paragraph ends here\n"
        "\n"
        "Another one starts with a capital.\n"
        "\n"
        "It is called as\n"
        "\n"
        "    handler(signum, frame)\n"
        "\n"
        "so it takes two parameters.\n"
    )
    assert _texts(text) == [
        "The date should be given in the form yyyy/mm/dd and must be present if the optional "
        "argument is used.",
        "A paragraph ends here",
        "Another one starts with a capital.",
        "It is called as",
        "handler(signum, frame)",
        "so it takes two parameters.",
    ]


def test_a_lead_in_is_joined_to_the_line_it_announces_when_that_is_no_code_block() -> None:
    # A PDF or a text file shows what a sentence announces on a line of its own, not fenced:
    # alone, the lead-in said nothing and was left out, and the line said too little.
    text = (
        "This can be changed by giving the modifier ! in the argument specification:\n"
        "\\NewDocumentCommand\\foobar{m !o}{ ... }\n"
        "where \\foobar{arg1} [arg2] will not find an optional argument.\n"
        "\n"
        "The example reads:\n"
        "\n"
        "    an indented literal block\n"
        "\n"
        "create-table-stmt:\n"
        "column-def:\n"
    )
    units = units_of(text, set(), 0, 0)
    assert [(u.text, u.code) for u in units] == [
        (
            "This can be changed by giving the modifier ! in the argument specification: "
            "\\NewDocumentCommand\\foobar{m !o}{ ... } where \\foobar{arg1} [arg2] will not "
            "find an optional argument.",
            "",
        ),
        # an indented literal block is the example its lead-in announces, shown with it
        ("The example reads:", "an indented literal block"),
    ]  # and a label ("create-table-stmt:") announces nothing


def test_a_block_quotes_lines_are_one_paragraph() -> None:
    text = (
        "> Any installed packages are installed at\n"
        "> your own risk. We also encourage anyone to contribute documentation for additional\n"
        "> packages that apply _Black_ formatting to doctests.\n"
    )
    assert _texts(text) == [
        "Any installed packages are installed at your own risk.",
        "We also encourage anyone to contribute documentation for additional packages that "
        "apply _Black_ formatting to doctests.",
    ]


def test_code_in_the_middle_of_a_sentence_stays_in_it() -> None:
    text = (
        "The most straightforward way is to write\n\n```\n#!/usr/local/bin/python\n```\n\n"
        "as the very first line of your file. It is called as\n\n"
        "```\nhandler(signum, frame)\n```\n\nso it takes two parameters:\n\n"
        "```\ndef handler(signum, frame):\n    ...\n```\n\n"
        "A sentence that ends.\n\n```\nprint(1)\n```\n\nand a line that goes on.\n"
    )
    units = units_of(text, set(), 0, 0)
    assert [u.shown for u in units] == [
        "The most straightforward way is to write `#!/usr/local/bin/python` as the very first "
        "line of your file.",
        # the block the lead-in announces comes whole, its lines as written
        "It is called as `handler(signum, frame)` so it takes two parameters:\n"
        "```\ndef handler(signum, frame):\n    ...\n```",
        "A sentence that ends.",
        "and a line that goes on.",
    ]
    text = "Jump back by doing\n\n```\n$ git switch master\n```\n\n(or any branch) any time.\n"
    assert [u.shown for u in units_of(text, set(), 0, 0)] == [
        "Jump back by doing `$ git switch master` (or any branch) any time."
    ]


def test_a_sentence_before_a_code_block_left_open_stays_as_it_is() -> None:
    text = "The most straightforward way is to write\n\n```\n#!/usr/local/bin/python"
    assert _texts(text) == ["The most straightforward way is to write"]


def test_a_line_that_opens_a_block_never_continues_the_line_before() -> None:
    text = (
        "The options are described in\n"
        "- the user guide;\n"
        "Settings for the\n"
        ".. note:: a directive\n"
        "This does the following:\n"
        "• sets the flag;\n"
        "• reads the file.\n"
    )
    texts = _texts(text)
    assert "The options are described in" in texts
    assert not any("Settings for the .." in t for t in texts)
    assert "This does the following: sets the flag; reads the file." in texts


def test_a_sentence_saying_in_effect_what_the_one_before_means_comes_with_it() -> None:
    hit = _hit(
        "If you specify a string as an annotation, the string will itself be quoted. "
        "In effect the annotation is quoted twice. "
        "Annotations are stored in a dict.\n"
    )
    answer = compose_documents("why does my string annotation get extra quotes?", [hit])
    assert "quoted twice" in answer.text


def test_a_numbered_heading_in_the_text_is_what_follows_is_about_not_a_sentence() -> None:
    text = (
        "3.4 A minimal class file\n"
        "There are four things that every class file must contain.\n"
        "1. Install the package\n\n"
        "*08.1*\tSplit a window\n\n"
        "The command splits the screen into two windows.\n"
    )
    units = units_of(text, set(), 0, 0)
    assert [u.text for u in units] == [
        "There are four things that every class file must contain.",
        "(1) Install the package",
        "The command splits the screen into two windows.",
    ]
    assert {"minim", "class", "file"} <= units[0].context
    assert {"split", "window"} <= units[2].context  # a marked-up numbered heading too


def test_a_lead_that_points_back_comes_after_the_sentence_it_points_to() -> None:
    hit = _hit(
        "Sorts are guaranteed to be stable. "
        "That means that when several records have the same key, their original order is "
        "preserved. "
        "Sorting is done in place by list.sort().\n"
    )
    answer = _body(compose_documents("do records with the same key keep their order?", [hit]).text)
    assert answer.startswith("Sorts are guaranteed to be stable")
    assert "That means" in answer


def _answered(question: str, text: str) -> str:
    return _body(compose_documents(question, [_hit(text)]).text)


def test_a_sentence_naming_this_thing_comes_after_the_sentence_that_says_what_it_is() -> None:
    answer = _answered(
        "what does the --quick flag turn off?",
        "Each run formats the code, then performs an AST safety check on the result. "
        "The --quick flag turns off this check and the --careful flag enables it. "
        "Output is written in place.",
    )
    assert answer.startswith("Each run formats the code, then performs an AST safety check")
    assert "turns off this check" in answer
    # "that" + a noun the sentence before says is a demonstrative too ...
    answer = _answered(
        "how do i skip commits in the blame command?",
        "Put the commit ids into a file called .ignore-revs at the root. "
        "Afterwards, you can pass that file to the blame command to skip those commits.",
    )
    assert answer.startswith("Put the commit ids into a file called .ignore-revs")
    # ... but "that" joining a clause points nowhere
    answer = _answered(
        "which commands skip the commits?",
        "Put the commit ids into a list at the root. "
        "Afterwards, note that commands of the blame kind skip those commits.",
    )
    assert answer.startswith("Afterwards, note that commands")
    # "this page" names the text, not something said before
    answer = _answered(
        "what does the --quick flag turn off?",
        "Sorting is stable. "
        "On this page the --quick flag is described; it turns off the safety check.",
    )
    assert answer.startswith("On this page")


def test_a_sentence_ends_inside_a_closing_bracket_or_quote() -> None:
    units = units_of(
        '(See the commit document.) The journal is hot. He said "stop." It ended.', set(), 0, 0
    )
    assert [u.text for u in units] == [
        "(See the commit document.)",
        "The journal is hot.",
        'He said "stop."',
        "It ended.",
    ]


def test_confidence_rises_with_the_share_of_the_question_the_answer_holds() -> None:
    from services.offline.confidence import observing_confidence

    question = "how many host parameters can one statement hold?"
    whole = "One statement can hold at most 32766 host parameters."
    part = "One statement can hold at most 32766 parameters."
    heard: list[tuple[str, dict[str, float]]] = []
    with observing_confidence(lambda q, f: heard.append((q, f))):
        first = compose_documents(question, [_hit(whole, 1)])
        second = compose_documents(question, [_hit(part, 1)])
    assert first.found and second.found
    assert heard[0][1]["covered"] == 1.0 > heard[1][1]["covered"]
    assert first.confidence > second.confidence
    # the observer hears the message as asked, with every feature the fit may use
    assert [q for q, _ in heard] == [question] * 2
    assert set(heard[0][1]) >= {
        "evidence",
        "coverage",
        "meaning",
        "margin",
        "typed",
        "lexical",
        "passage",
        "whole",
        "covered",
    }


def test_confidence_is_the_logistic_model_of_its_features() -> None:
    import math

    model = DEFAULT_TUNING.confidence
    from services.offline.confidence import observing_confidence

    heard: list[dict[str, float]] = []
    with observing_confidence(lambda _q, f: heard.append(f)):
        answer = compose_documents(
            "how many host parameters can one statement hold?",
            [_hit("One statement can hold at most 32766 host parameters.")],
        )
    logit = model.bias + sum(w * heard[0][k] for k, w in model.weights.items())
    assert heard[0]["passage"] == 1.0  # the search's first passage: no discount
    # under the default ceiling, which keeps the order of answers (feedback calibrates it)
    assert answer.confidence == round(round(1 / (1 + math.exp(-logit)), 3) * model.ceiling, 3)


def test_an_answer_from_a_passage_the_search_ranked_lower_is_less_confident() -> None:
    text = "One statement can hold at most 32766 host parameters."
    question = "how many host parameters can one statement hold?"
    first = compose_documents(question, [_hit(text)])
    lower = compose_documents(question, [{**_hit(text), "_rank": 2}])
    assert first.text == lower.text
    weight = DEFAULT_TUNING.confidence.passage_weight
    assert lower.confidence == pytest.approx(first.confidence * (1 - weight * 2 / 3), abs=2e-3)
    assert first.confidence < 0.9  # never near-certain before feedback calibrates it


DEFINITIONS = """Options of the contents directive:

``depth`` : integer
    The number of section levels that are collected in the table of
    contents.  The default is unlimited depth.

``local`` : flag
    Generate a local table of contents.  Entries will only include
    subsections of the section in which the directive is given.  If no
    explicit title is given, the table of contents will not be titled.
"""


def test_a_definitions_sentences_are_about_its_term_and_an_answer_names_it() -> None:
    units = units_of(DEFINITIONS, set(), 0, 0)
    texts = [u.text for u in units]
    assert "``local`` : flag — Generate a local table of contents." in texts
    assert "``local`` : flag" not in texts  # the term alone is no sentence
    entries = next(u for u in units if u.text.startswith("Entries will only include"))
    assert entries.label == "``local`` : flag" and {"local", "flag"} <= entries.context
    assert entries.shown.startswith("``local`` : flag — Entries will only include")
    # right after the definition's own first sentence, the term is not said again
    first = next(u for u in units if u.text.startswith("``local``"))
    assert entries.shown_after(first).startswith("Entries will only include")

    answer = compose_documents(
        "can the table of contents show only the subsections of the current section?",
        [_hit(DEFINITIONS)],
    )
    assert answer.found and "``local``" in _body(answer.text)


def test_a_term_dash_description_paragraph_labels_its_later_sentences() -> None:
    units = units_of(
        "strict — Whether host bits are refused. When false, they are coerced to zero.",
        set(),
        0,
        0,
    )
    assert [u.shown for u in units] == [
        "strict — Whether host bits are refused.",
        "strict — When false, they are coerced to zero.",
    ]
    # a long phrase before a dash is prose, not a term
    prose = units_of(
        "The primary region that hosts the whole platform today — eu-west-1 — is Irish. "
        "Backups are kept elsewhere.",
        set(),
        0,
        0,
    )
    assert [u.label for u in prose] == ["", ""]


def test_an_indented_block_after_a_sentence_or_a_lead_in_is_no_definition() -> None:
    units = units_of(
        "Run it like this:\n    almanac ask question\nIt prints the answer.\n    Indented.",
        set(),
        0,
        0,
    )
    assert all(not u.label for u in units)


def test_a_problem_the_message_reports_asks_for_the_passages_remedy() -> None:
    passage = (
        "Network objects cannot have any host bits set. By default, attempting to create a "
        "network object with host bits set will result in ValueError being raised. To "
        "request that the additional bits instead be coerced to zero, the flag strict=False "
        "can be passed to the constructor. Networks can also be defined with integers."
    )
    answer = compose_documents(
        "ip_network('192.0.2.1/24') -> ValueError has host bits set. how do i get it to "
        "just give me the network",
        [_hit(passage)],
    )
    assert answer.found and "strict=False" in _body(answer.text)


def test_a_way_out_offered_as_still_available_is_the_passages_remedy() -> None:
    passage = (
        "Old-style numerals are now taken from the companion encoding, so they look "
        "different in sans serif fonts since the update. "
        "Should the original definition ever be needed, it remains available as "
        "\\legacynumerals."
    )
    answer = compose_documents(
        "my old-style numerals look different in sans serif since an update, how do i get "
        "the old numerals back",
        [_hit(passage)],
    )
    assert answer.found and "\\legacynumerals" in _body(answer.text)


def test_a_link_with_at_most_a_word_is_no_sentence() -> None:
    units = units_of(
        "Python: https://www.python.org/\n\nhttps://docs.python.org/3/library/time.html\n\n"
        "The status page: https://status.example.com/ lists incidents.",
        set(),
        0,
        0,
    )
    assert [u.text for u in units] == [
        "The status page: https://status.example.com/ lists incidents."
    ]


def test_a_definitions_first_sentence_brings_the_rest_of_its_description() -> None:
    text = (
        "Options of the table directive:\n\n"
        "``header-rows`` : integer\n"
        "    The number of rows of data to use in the table header.\n"
        "    Defaults to 0.\n\n"
        "``stub-columns`` : integer\n"
        "    The number of table columns to use as stubs (row titles, on the left).\n"
        "    Defaults to 0.\n"
    )
    answer = compose_documents("what are stub columns in a table?", [_hit(text)])
    body = _body(answer.text)
    assert "``stub-columns`` : integer — The number of table columns" in body
    # the description goes on, and its term is not said twice in a row
    assert "row titles, on the left) [1]. Defaults to 0 [1]." in body


VALUES = (
    "The meaning of the TEMP_STORE compile-time parameter is as follows:\n\n"
    "0. Temporary files are always stored on disk regardless of the temp_store pragma.\n"
    "1. Temporary files are stored on disk by default but the pragma can override this.\n"
    "2. Temporary files are stored in memory by default but the pragma can override this.\n"
    "3. Temporary files are always stored in memory regardless of the temp_store pragma.\n"
)


def test_an_ordered_items_number_is_quoted_with_it_but_states_no_quantity() -> None:
    units = units_of(VALUES, set(), 0, 0)
    always = next(u for u in units if "always stored in memory" in u.text)
    # the number stays with its item (it can be the value asked for) ...
    assert "as follows: (3) Temporary files are always stored in memory" in always.text
    # ... but where an item stands is neither a word of it nor how its meaning is read
    assert "3" not in always.stems and "(3)" not in always.read
    assert states_quantity("(3) Driver app locations from the Android app.") is False
    assert states_quantity("(3) Keep 3 copies.") is True

    answer = compose_documents(
        "what value of TEMP_STORE always keeps temp files in memory, regardless of the pragma?",
        [_hit(VALUES)],
    )
    assert answer.found and "(3) Temporary files are always stored in memory" in _body(answer.text)


def test_a_definition_of_the_term_asked_about_is_evidence_a_table_row_is_not() -> None:
    question = "and what's alias for then?"
    text = (
        "alias — Same as ssub but with a different logging message.\n\n"
        "Same as ssub, alias writes a different logging message.\n\n"
        "alias — Message: different; Logged: yes\n"
    )
    units = units_of(text, set(), 0, 0)
    scored = {s.unit.text: s for s in score_units(question, content_stems(question), units)}
    defining = scored["alias — Same as ssub but with a different logging message."]
    mentioning = scored["Same as ssub, alias writes a different logging message."]
    row = scored["alias — Message: different; Logged: yes"]
    assert defining.coverage == mentioning.coverage  # the same words ...
    # ... but only the definition says what the term is
    assert defining.evidence == pytest.approx(
        mentioning.evidence + DEFAULT_TUNING.score.identifier_evidence
    )
    assert row.evidence == pytest.approx(row.coverage)  # no semantic scores: evidence is coverage


def _typed(question: str, text: str) -> dict[str, bool]:
    """Each sentence of `text`: whether it holds the kind of fact `question` asks for."""
    units = units_of(text, set(), 0, 0)
    return {s.unit.text: s.typed for s in score_units(question, content_stems(question), units)}


def test_a_version_says_when_an_items_number_does_not() -> None:
    question = "when was the encoding argument added?"
    text = (
        "The encoding argument was added in version 3.9.\n\n1. The encoding argument is optional."
    )
    assert _typed(question, text) == {
        "The encoding argument was added in version 3.9.": True,
        "(1) The encoding argument is optional.": False,
    }


def test_asking_for_the_means_wants_the_sentence_that_says_what_to_pass() -> None:
    text = (
        "Unknown options are generally ignored and end up in the remaining arguments.\n\n"
        "Pass `ignore_unknown_options` in the context settings to collect them."
    )
    for question in (
        "my tool passes unknown options through to another program. what setting do i need?",
        "is there anything in the parser for unknown options?",
        "is there a built in option for passing unknown options on?",
        "unknown options passed on to the program, possible?",
    ):
        assert _typed(question, text) == {
            "Unknown options are generally ignored and end up in the remaining arguments.": False,
            "Pass `ignore_unknown_options` in the context settings to collect them.": True,
        }, question


def test_a_reference_style_link_reads_as_its_text() -> None:
    units = units_of(
        "See [the setup page][setup] and [the FAQ][] for [details](faq.md).", set(), 0, 0
    )
    assert [u.text for u in units] == ["See the setup page and the FAQ for details."]
    assert units_of("Read it as matrix[i][j] in the loop.", set(), 0, 0)[0].text == (
        "Read it as matrix[i][j] in the loop."
    )


def test_a_pdf_page_heading_is_cited_but_not_read_for_meaning() -> None:
    from services.offline.candidates import sentence_texts

    hit = {
        **_hit("An optional argument may be nested safely."),
        "title": "LaTeX for authors",
        "section": "2 Creating document commands > 2.5 Optional arguments > Page 6",
    }
    assert sentence_texts(hit) == [
        "LaTeX for authors, 2 Creating document commands > 2.5 Optional arguments: "
        "An optional argument may be nested safely."
    ]
    assert sentence_texts({**hit, "section": "Page 6"})[0].startswith("LaTeX for authors: ")
    answer = compose_documents("can an optional argument be nested?", [hit])
    assert "2.5 Optional arguments > Page 6" in answer.text  # the citation keeps the page


def test_any_mix_of_blocks_reads_without_error() -> None:
    # Lead-ins, code left open, quotes, indents and lists in any order: the joins that look
    # ahead (a lead-in's line, code inside a sentence, a page break) never read past the text.
    pieces = [
        "The most straightforward way is to write",
        "",
        "```",
        "code()",
        "as the first line.",
        "This is declared as follows:",
        "\\DeclareOption{x}",
        "    indented",
        "> quoted line of text",
        "> and more",
        "- item one",
        "| a | b |",
        "# Heading",
        "Due to this, it will raise",
        "`E203` warnings.",
        "lowercase start here",
    ]
    chooser = random.Random(7)
    for _ in range(2000):
        text = "\n".join(chooser.choice(pieces) for _ in range(chooser.randint(1, 12)))
        for unit in units_of(text, set(), 0, 0):
            assert unit.text.strip()


def test_quoted_asterisks_are_no_emphasis_and_nothing_between_them_is_lost() -> None:
    text = (
        "This is analogous to the special parameters ‘@’ and ‘*’. If subscript is ‘@’ or "
        "‘*’, the expansion is the number of elements in the array. Use *only* one. *Note:* "
        "keep it."
    )
    assert _texts(text) == [
        "This is analogous to the special parameters ‘@’ and ‘*’.",
        "If subscript is ‘@’ or ‘*’, the expansion is the number of elements in the array.",
        "Use only one.",
        "Note: keep it.",
    ]


def test_a_term_then_its_synopsis_then_its_description_keeps_all_three_together() -> None:
    text = (
        "mapfile:\n\n```\nmapfile [-d delim] [-t] [array]\n```\n\n"
        "Read lines from the standard input into the indexed array variable array. "
        "The variable MAPFILE is the default array.\n\n"
        "For example:\n\n```\nmapfile -t lines < notes.txt\n```\n"
    )
    units = units_of(text, set(), 0, 0)
    first, second, example = units
    assert first.text.startswith("mapfile — Read lines from the standard input")
    assert first.code == "mapfile [-d delim] [-t] [array]"
    assert second.label == "mapfile"
    # Code that does not start with the term is an example the lead-in announces.
    assert (example.text, example.code) == ("For example:", "mapfile -t lines < notes.txt")


def test_a_sentence_that_only_says_where_something_is_described_ranks_below_what_it_says() -> None:
    text = (
        "The POSIX mode is described in POSIX Mode.\n\n"
        "Starting with the --posix option or running set -o posix turns it on.\n"
    )
    question = "ways to put the shell into posix mode?"
    units = units_of(text, set(), 0, 0)
    # The pointer shares more of the question's words; the two mean about as much.
    scored = score_units(question, content_stems(question), units, semantic=[0.6, 0.62])
    assert scored[0].unit.text.startswith("Starting with the --posix option")


def test_a_range_states_the_largest_and_the_smallest_value() -> None:
    text = (
        "Numbers take the form [base#]n, where base is a decimal number between 2 and 64.\n\n"
        "Numbers are written in base 10 unless a base is given.\n"
    )
    for question in ("biggest base i can use?", "smallest base i can use?"):
        scored = score_units(question, content_stems(question), units_of(text, set(), 0, 0))
        assert "between 2 and 64" in scored[0].unit.text
        assert scored[0].coverage > scored[1].coverage


def test_asked_where_a_file_is_read_from_the_sentence_naming_a_path_ranks_first() -> None:
    text = (
        "When a program using the library starts up, the init file is read and the key "
        "bindings are set.\n\n"
        "The name of the init file is taken from a variable; if it is unset, the default is "
        "~/.inputrc.\n"
    )
    units = units_of(text, set(), 0, 0)
    # The first shares every word of the question; the second means a little more.
    meaning = [0.45, 0.62]
    question = "where does the library read its key bindings init file from"
    scored = score_units(question, content_stems(question), units, semantic=meaning)
    assert scored[0].unit.text.endswith("~/.inputrc.")
    assert scored[0].typed and not scored[1].typed
    # Asked where something happens, not where a file is kept: no path is wanted.
    asked = "where does the library set the key bindings when it starts up"
    scored = score_units(asked, content_stems(asked), units, semantic=meaning)
    assert scored[0].unit.text.startswith("When a program")
    # "read/write" or "and/or" is no path.
    shared = units_of("The init file is opened read/write and/or created.\n", set(), 0, 0)
    assert not score_units(question, content_stems(question), shared)[0].typed


def test_a_filled_paragraph_goes_on_whatever_the_word_its_width_pushed_to_the_next_line() -> None:
    # Filled to 78 columns: "Thus using" ends where '"N"' no longer fitted.
    text = (
        "The N command repeats the last search in the opposite direction.  Thus using\n"
        '"N" after a "/" command searches backwards, using "N" after "?" searches\n'
        "forwards.\n\n"
        "Heading\n"
        '"Quoted" words open this sentence, which stays apart from the short line.\n'
    )
    assert _texts(text) == [
        "The N command repeats the last search in the opposite direction.",
        'Thus using "N" after a "/" command searches backwards, using "N" after "?" '
        "searches forwards.",
        # a short line ended where it wanted to: the next one is not its rest
        '"Quoted" words open this sentence, which stays apart from the short line.',
    ]
    # A table drawn in box characters fills its width row after row: each row stays apart.
    rows = (
        "│%a│alias name"
        + " " * 63
        + "│\n│%f│flags - currently, a d for an alias marked"
        + " " * 30
        + "│\n"
    )
    assert fill_width(rows.splitlines(), DEFAULT_TUNING.read) >= 60
    assert len(_texts(rows)) == 2


def test_an_indented_example_a_lead_in_announces_is_shown_with_it() -> None:
    text = (
        "IGNORING CASE\n\n"
        "If you don't care about case in a word, set the 'ignorecase' option:\n\n"
        "\t:set ignorecase\n\n"
        "Searches then match both.  For French:\n\n"
        "\tvimtutor fr\n\n"
        "The fields are as follows:\n\n"
        "    =====  =====\n"
        "    name   value\n"
        "    =====  =====\n\n"
        "As the manual puts it:\n\n"
        "    Every option has a default, and you may change it at any time you like.\n"
    )
    units = units_of(text, set(), 0, 0)
    shown = [(u.text, u.code) for u in units]
    assert shown[0] == (
        "If you don't care about case in a word, set the 'ignorecase' option:",
        ":set ignorecase",
    )
    # A short lead-in ending a paragraph announces its example too.
    assert shown[1:3] == [("Searches then match both.", ""), ("For French:", "vimtutor fr")]
    # A heading in capitals says what follows is about, and is no sentence of its own.
    assert "IGNORING CASE" not in [u.text for u in units]
    assert {"ignor", "case"} <= units[0].context
    # A table or a quoted sentence is no example: the lead-in is not shown with it.
    assert not any(u.code for u in units[3:])


def test_an_indented_table_of_terms_a_lead_in_announces_is_its_list_every_row_kept() -> None:
    text = (
        "The 'laststatus' option says when the last window has a status line:\n\n"
        "\t0\tnever\n"
        "\t1\tonly if there are at least two windows (the default)\n"
        "\t2\talways\n"
        "\t3\tglobal, one for all windows\n"
    )
    assert _texts(text) == [
        "The 'laststatus' option says when the last window has a status line: 0 — never; "
        "1 — only if there are at least two windows (the default); 2 — always; "
        "3 — global, one for all windows."
    ]


def test_a_lead_in_a_passage_ends_with_is_a_sentence_of_its_own() -> None:
    # the list it announces went to the next passage (a chunk boundary); the lead-in still
    # says which option it is. Mid-passage, a lead-in before a quotation says nothing alone.
    text = (
        "For details about diff mode, see the manual.\n\n"
        "The 'laststatus' option says when the last window has a status line:"
    )
    assert _texts(text) == [
        "For details about diff mode, see the manual.",
        "The 'laststatus' option says when the last window has a status line:",
    ]
    assert _texts("Nothing else here. For example:") == ["Nothing else here."]


def test_the_ranked_candidates_are_heard_before_a_refusal_too() -> None:
    from services.offline.candidates import observing_candidates

    heard: list[tuple[str, list[str], list[str]]] = []
    read: list[list[str]] = []

    def hear(q: str, s: Sequence[Scored], p: Sequence[str], texts: Sequence[str]) -> None:
        heard.append((q, [i.unit.text for i in s], list(p)))
        read.append(list(texts))

    with observing_candidates(hear):
        answered = compose_documents(
            "how many host parameters can one statement hold?",
            [_hit("Printing is slow. One statement can hold at most 32766 host parameters.", 1)],
        )
        refused = compose_documents("who painted the ceiling?", [_hit("Printing is slow.", 1)])
    assert answered.found and not refused.found
    assert heard[0] == (
        "how many host parameters can one statement hold?",
        ["One statement can hold at most 32766 host parameters.", "Printing is slow."],
        ["Printing is slow. One statement can hold at most 32766 host parameters."],
    )
    assert heard[1] == ("who painted the ceiling?", ["Printing is slow."], ["Printing is slow."])
    # The reader reads each candidate after its section's label.
    assert [t.endswith(": Printing is slow.") for t in read[1]] == [True]
