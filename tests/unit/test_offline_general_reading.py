"""General reading rules of the offline answerer, each read from the words alone (no knowledge
base's vocabulary): an elliptical follow-up's words take the place of the words of their kind
in the previous question; a field whose label the question asks for gives the value; a name of
code that no retrieved passage holds means the question is about something else; a question
asking how to do something wants a sentence that says what to do; a version's number is no
quantity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from services.offline.bar import _answering, _proper_names, _rare_term_elsewhere, _unheard_names
from services.offline.candidates import sentence_texts
from services.offline.choose import _CONTINUING
from services.offline.compose import compose_documents
from services.offline.context import AnswerContext
from services.offline.question import counted_things, states_count_of, states_quantity
from services.offline.question_follow_up import (
    follow_up_query,
    rewritten_follow_up,
    substituted,
    substituted_by_meaning,
)
from services.offline.read import units_of
from services.offline.score import Scored, score_units
from services.offline.text import content_stems, stem
from services.offline.tuning import DEFAULT_TUNING


def _hit(text: str, number: int = 1, section: str = "Settings") -> dict[str, Any]:
    return {
        "number": number,
        "document_id": number,
        "title": "Manual",
        "section": section,
        "source": "manual.txt",
        "text": text,
        "bm25_rank": 1,
        "vector_distance": 0.3,
    }


class _Known:
    def __init__(self, stems: set[str]) -> None:
        self._stems = stems

    def __call__(self, word_stem: str) -> bool:
        return word_stem in self._stems

    def exactly(self, word_stem: str) -> bool:
        return word_stem in self._stems


def _body(answer_text: str) -> str:
    return answer_text.split("**Sources**")[0]


# --- follow-ups: the new words take the place of the old words of their kind ---------------


def test_a_name_replaces_the_name_of_the_same_shape() -> None:
    assert substituted("how big is \\footnotesize in the article class", "\\Huge") == (
        "how big is \\Huge in the article class",
        ["\\footnotesize"],
    )
    assert substituted("what usually goes in graphics.cfg", "color.cfg") == (
        "what usually goes in color.cfg",
        ["graphics.cfg"],
    )
    assert substituted("numeric value of logging.WARNING", "DEBUG") == (
        "numeric value of logging.DEBUG",
        ["WARNING"],
    )
    assert substituted("what's the default boundary for Flag enums", "IntFlag") is not None
    assert substituted("smallint range in postgres", "bigint") == (
        "bigint range in postgres",
        ["smallint"],
    )


def test_two_english_words_that_only_end_alike_are_not_of_a_kind() -> None:
    assert substituted("what is the report deadline", "support") is None


def test_a_follow_up_ending_in_the_same_noun_replaces_the_word_before_it() -> None:
    assert substituted("what's the default report level in docutils", "the halt level") == (
        "what's the default halt level in docutils",
        ["report"],
    )


def test_a_follow_up_asking_its_own_question_replaces_nothing() -> None:
    assert substituted("How often must passwords be rotated", "how long must they be") is None
    assert rewritten_follow_up("and how long must they be?", ["How often must passwords be?"]) is (
        None
    )


def test_the_search_query_drops_the_replaced_words_and_keeps_the_whole_question() -> None:
    query = follow_up_query("and \\Huge?", ["how big is \\footnotesize in the article class?"])
    assert "footnotesize" not in query.text
    assert query.whole == "how big is \\Huge in the article class"
    assert follow_up_query("and for IntFlag?", ["what's the default for Flag?"]).borrowed == (
        "default",
    )


def test_a_follow_up_is_answered_from_the_whole_question_it_stands_for() -> None:
    hit = _hit(
        "Flags can be combined with the bitwise operators. "
        "The default boundary for Flag is STRICT, the default for IntFlag is EJECT. "
        "Pseudo-members are created on demand."
    )
    query = follow_up_query("and for IntFlag?", ["what's the default boundary for Flag enums?"])
    answer = compose_documents(query.text, [hit], borrowed=query.borrowed, whole=query.whole)
    assert answer.found
    assert "EJECT" in _body(answer.text)


# --- fields -------------------------------------------------------------------------------


def test_a_field_list_line_is_a_unit_not_a_lead_in() -> None:
    texts = [
        u.text for u in units_of(":Aliases:   \\:ac:\n:Doctree Element: acronym\n", set(), 0, 0)
    ]
    assert texts[0] == "Aliases: :ac:"


def test_the_field_the_question_asks_for_ranks_first() -> None:
    text = (
        'Format for footnote references, one of "superscript" or "brackets".\n'
        "See also the footnote references setting of the LaTeX writers.\n\n"
        '*Default*: "brackets".  *Option*: ``--footnote-references``.\n'
    )
    question = "default footnote reference style in html output?"
    units = units_of(text, {"footnote", "refer"}, 0, 0)
    scored = score_units(question, content_stems(question), units)
    assert scored[0].unit.text.startswith("Default:")


# --- names no passage holds ---------------------------------------------------------------


def test_a_name_of_code_that_no_passage_holds_is_unheard() -> None:
    hits = [_hit("Use PRAGMA journal_mode=WAL to switch; SQLITE_BUSY means the lock is held.")]
    assert _unheard_names("how do I create an FTS5 table?", hits) == ["FTS5"]
    assert _unheard_names("what does isolation_level=None do?", hits) == ["isolation_level"]
    assert _unheard_names("why do I get SQLITE_BUSY with journal_mode WAL?", hits) == []
    assert _unheard_names("numeric value of logging.WARNING?", [_hit("WARNING: 30")]) == []
    assert _unheard_names("e.g. how do I switch?", hits) == []
    assert _unheard_names("porting py2 code", [_hit("In Python 2, sort() took cmp.")]) == []
    # People hyphenate English; a name of one word the knowledge base holds elsewhere counts.
    assert _unheard_names("canary auto-abort threshold?", hits) == []
    assert _unheard_names("is FTS5 there?", hits, known=_Known({"fts5"})) == []
    # A file's name is one name: another file of the same type does not hold it.
    tools = [_hit("buildhtml.py generates HTML; settings go in docutils.conf.")]
    assert _unheard_names("which conf.py option sets the theme?", tools) == ["conf.py"]
    assert _unheard_names("where does docutils.conf live?", tools) == []


def test_names_numbered_in_a_series_are_the_askers_placeholders() -> None:
    hits = [_hit("The return status of a pipeline is the exit status of the last command.")]
    question = "cmd1 | cmd2 | cmd3 returns 0 even when cmd1 fails. how do I see the failure?"
    assert _unheard_names(question, hits) == []
    # One numbered name is a name: a product, a version, a table.
    assert _unheard_names("does it support ec2 or ftp3?", hits) == ["ftp3"]


def _found(text: str, *questions: str) -> list[bool]:
    """Whether each question is answered from one passage holding `text`."""
    return [compose_documents(question, [_hit(text)]).found for question in questions]


def test_a_question_naming_code_no_passage_holds_is_not_answered() -> None:
    text = (
        "To list all tables, run SELECT name FROM sqlite_schema WHERE type='table'. "
        "The sql field is the text of the original CREATE TABLE statement."
    )
    asked = ("how do i create a table in sqlite?", "how do i create an FTS5 table in sqlite?")
    assert _found(text, *asked) == [True, False]


def test_a_name_typed_with_a_capital_is_a_name_even_when_it_is_an_english_word() -> None:
    assert _proper_names("how do I set up black in the Zed editor (or Helix)?") == {"zed", "helix"}
    # a sentence's first word, "I" and a word after a sentence's end are no names
    assert _proper_names("Black says no. Which flag? I think Wing works") == {"wing"}
    text = (
        "Editor integration: PyCharm runs the formatter on save. "
        "Wing IDE supports the formatter through its preference settings on save."
    )
    # "zed" is an English word, so only its capital says it names something the knowledge
    # base never mentions
    asked = (
        "how do i set up the formatter in the zed editor?",
        "how do i set up the formatter in the Zed editor?",
    )
    assert _found(text, *asked) == [True, False]


def test_an_option_typed_as_such_is_what_the_question_is_about() -> None:
    # "fast" alone asks how fast; "--fast" names an option
    assert content_stems("how fast is it?") == []
    assert content_stems("what does --fast actually skip?") == ["fast", "skip"]
    assert content_stems("what does `now` do?") == ["now"]
    # a one-letter option is a name too, a lone letter is not
    assert content_stems("what does set -u do?") == ["set", "u"]
    assert content_stems("can u set it") == ["set"]
    text = (
        "-e — Exit immediately if a pipeline returns a non-zero status.\n\n"
        "-u — Treat unset variables as an error when performing parameter expansion.\n\n"
        "-x — Print a trace of simple commands.\n"
    )
    answer = compose_documents(
        "what does set -u do?", [_hit(text, section="Manual > The Set Builtin")]
    )
    assert _body(answer.text).startswith("-u — Treat unset variables")


def test_a_letter_typed_as_a_key_or_an_answer_is_what_the_question_is_about() -> None:
    # an interactive prompt's answers and keys are letters: quoted, or after a verb of keying
    assert content_stems("what does answering l do at that prompt?") == ["answ", "l", "prompt"]
    assert content_stems("what does pressing 'q' do") == ["press", "q"]
    assert content_stems("hit n to skip?") == ["hit", "n", "skip"]
    # "a" and "i" stay English, and a letter that starts a word is not one typed alone
    assert content_stems("press a key to go on") == ["press", "key", "go"]
    assert content_stems("what type i should use") == ["type", "use"]
    assert content_stems("press x-ray") == ["press", "ray"]
    text = (
        "y Yes; make this change.\n\n"
        "n No; skip this match.\n\n"
        "q Quit; don't make any more changes.\n\n"
        "l Last; make this change and then quit.\n"
    )
    hits = [_hit(text, section="Manual > Substitute > Answers at the confirm prompt")]
    answer = compose_documents("what does answering l do at the prompt?", hits)
    assert "l Last; make this change and then quit" in _body(answer.text)
    assert "y Yes" not in _body(answer.text)
    # "q" is no chat shorthand in a document: the item it labels holds it
    answer = compose_documents("what does 'q' do at the prompt?", hits)
    assert _body(answer.text).startswith("q Quit; don't make any more changes")


# --- what kind of fact is asked for ---------------------------------------------------------


def test_a_how_to_question_prefers_the_sentence_that_says_what_to_do() -> None:
    text = (
        "Each run of basicConfig appends its messages to the log file.\n\n"
        "To start each run afresh, pass `filemode='w'` to basicConfig.\n"
    )
    units = units_of(text, {"log", "file"}, 0, 0)

    def lead(question: str) -> float:
        scored = {s.unit.text[:4]: s for s in score_units(question, content_stems(question), units)}
        return scored["To s"].total - scored["Each"].total

    how = "how do i start each basicConfig run afresh in the log file?"
    whether = "does each basicConfig run start afresh in the log file?"
    assert lead(how) > lead(whether)  # the way to do it counts as what was asked


def test_a_how_to_answer_that_says_nothing_to_do_is_never_confident() -> None:
    hit = _hit(
        "Each run of basicConfig appends its messages to the log file.\n\n"
        "The log file grows with every run.\n",
        section="Logging to a file",
    )
    answer = compose_documents("how do i stop basicConfig appending to the log file?", [hit])
    assert answer.found
    assert answer.confidence <= DEFAULT_TUNING.confidence.untyped_cap
    plain = compose_documents("does basicConfig keep appending to the log file?", [hit])
    assert plain.confidence > DEFAULT_TUNING.confidence.untyped_cap


def test_a_version_number_is_no_quantity() -> None:
    assert not states_quantity("New in Docutils 0.17.")
    assert not states_quantity("Python 3.11 is needed.")
    assert states_quantity("Defaults to 999 for SQLite versions prior to 3.32.0.")
    assert states_quantity("The rate is 2.5 percent.")


def test_a_one_word_follow_up_replaces_the_earlier_word_closest_in_meaning() -> None:
    kin = {("latex", "html"): 0.53, ("latex", "output"): 0.42, ("latex", "style"): 0.39}

    def similarities(word: str, others: Sequence[str]) -> list[float]:
        return [kin.get((word, other.lower()), 0.1) for other in others]

    previous = ["default footnote reference style in html output?"]
    query = substituted_by_meaning(
        follow_up_query("what about latex?", previous), "what about latex?", previous, similarities
    )
    assert query.whole == "default footnote reference style in latex output"
    assert "html" not in query.text
    # Too close to call, or a question of its own: unchanged.
    kin[("latex", "output")] = 0.52
    unsure = follow_up_query("what about latex?", previous)
    assert substituted_by_meaning(unsure, "what about latex?", previous, similarities) == unsure
    own = follow_up_query("and how is it set?", previous)
    assert substituted_by_meaning(own, "and how is it set?", previous, similarities) == own


# --- a manual's entries, counts, remedies, and the bar a narrower search keeps ---------------


def test_a_sentence_under_a_heading_naming_a_setting_is_led_by_the_name() -> None:
    text = "Report system messages at or above the level given: 1 info, 2 warning, 3 error.\n"
    question = "how do i report system messages of the error level only?"
    entry = _hit(text, section="Configuration > [general] > report_level")
    assert _body(compose_documents(question, [entry]).text).startswith("`report_level`: Report")
    # A heading in words names no entry; a name the question or answer already says is not
    # repeated; a document's only heading is its title.
    for section in ("Configuration > Reporting levels", "report_level"):
        assert _body(compose_documents(question, [_hit(text, section=section)]).text).startswith(
            "Report"
        )
    named = "how do i report system messages of the error level only with report_level?"
    assert _body(compose_documents(named, [entry]).text).startswith("Report")
    for heading in ("--report", ":acronym:", "\\oldstylenums", "latex209.cfg"):
        hit = _hit(text, section=f"Manual > {heading}")
        assert _body(compose_documents(question, [hit]).text).startswith(f"`{heading}`: ")
    # a command-line manual's entry lists the option's forms
    for heading in ("-r, --report", "--report / --quiet"):
        hit = _hit(text, section=f"Manual > Options > {heading}")
        forms = ", ".join(f"`{form}`" for form in heading.replace(" / ", ", ").split(", "))
        assert _body(compose_documents(question, [hit]).text).startswith(f"{forms}: Report")
    hit = _hit(text, section="Manual > Reporting, levels")  # words, not options
    assert _body(compose_documents(question, [hit]).text).startswith("Report")
    # a mode's entry is headed by the keyword argument that selects it
    for heading in ('report="fd"', "report=True", "`report='sys'`"):
        hit = _hit(text, section=f"Manual > Modes > {heading}")
        name = heading.strip("`")
        assert _body(compose_documents(question, [hit]).text).startswith(f"`{name}`: Report")
    hit = _hit(text, section='Manual > Modes > report="sys" (default)')  # a remark after it
    assert _body(compose_documents(question, [hit]).text).startswith('`report="sys"`: Report')
    hit = _hit(text, section="Manual > Modes > report = the level")  # words, not a value
    assert _body(compose_documents(question, [hit]).text).startswith("Report")
    # a hyphenated name capitalised in every part: an HTTP header, a directive
    hit = _hit(text, section="Manual > Headers > X-Report-Level")
    body = _body(compose_documents(question, [hit]).text)
    assert body.startswith("`X-Report-Level`: Report")
    hit = _hit(text, section="Manual > Headers > Add-ons")  # an English word
    assert _body(compose_documents(question, [hit]).text).startswith("Report")
    # a command in capitals names its entry; a manual page's part ("DESCRIPTION") does not
    hit = _hit(text, section="Manual > REINDEX")
    assert _body(compose_documents(question, [hit]).text).startswith("`REINDEX`: Report")
    for part in ("DESCRIPTION", "OPTIONS", "EXAMPLES"):
        hit = _hit(text, section=f"tool(1) Manual Page > {part}")
        assert _body(compose_documents(question, [hit]).text).startswith("Report")


def test_a_thing_that_is_a_number_is_given_only_by_a_sentence_holding_one() -> None:
    vague = "You can start the server on the default port, binding only to the local interface."
    stated = "The server listens on port 45484 of the local interface by default."
    question = "what port does the server listen on by default?"
    assert not compose_documents(question, [_hit(vague)]).found
    assert compose_documents(question, [_hit(stated)]).found
    exits = "With --check the tool exits with code 1 when a file would change."
    assert compose_documents("what exit code does --check give?", [_hit(exits)]).found
    assert not compose_documents(
        "what exit code does --check give?",
        [_hit("With --check the tool exits when a file would change.")],
    ).found
    # an error code may be a name
    busy = "While another connection holds the lock, a write gets the error code SQLITE_BUSY."
    locked = "what error code does a write get while another connection holds the lock?"
    assert compose_documents(locked, [_hit(busy)]).found
    # "what about ... numbers" asks about them, not for one
    rule = "Never paste customer shipment exports or the drivers' phone numbers into a chatbot."
    assert compose_documents(
        "what about the drivers' phone numbers in a chatbot?", [_hit(rule)]
    ).found


def test_a_sentence_stating_a_count_of_what_is_counted_ranks_higher() -> None:
    assert counted_things("can a simple table have only 1 column?") == {"column"}
    assert counted_things("how many partitions does it have") == set()
    # After the question mark comes an example, not what is asked.
    assert counted_things("is sorted() stable? like if 2 records have the same key") == set()
    assert states_count_of("There must be at least two columns.", frozenset({"column"}))
    assert not states_count_of("Row 4; column 1 will be empty.", frozenset({"column"}))
    assert not states_count_of("New in Docutils 0.17 columns.", frozenset({"column"}))

    units = units_of(
        "Row 4; column 1 will be empty in a simple table.\n\n"
        "A simple table must have at least two columns.\n",
        {"simpl", "tabl"},
        0,
        0,
    )
    question = "can a simple table have only 1 column?"
    assert score_units(question, content_stems(question), units)[0].unit.text.startswith("A ")


def test_asked_how_to_fix_a_problem_the_answer_goes_on_to_the_fix() -> None:
    hit = _hit(
        "The pattern <.*> matches the whole html line instead of a single tag. "
        "The .* is greedy and consumes the rest of the html line. "
        "The match then extends to the last > of the line. "
        "The solution is to use the non-greedy quantifier *? instead.\n"
    )
    fix = "my pattern <.*> matches the whole html line instead of a single tag, how do i fix it?"
    assert "non-greedy" in compose_documents(fix, [hit]).text
    why = "why does my pattern <.*> match the whole html line instead of a single tag?"
    assert "non-greedy" not in compose_documents(why, [hit]).text


def test_a_sentence_pointing_back_in_its_first_clause_comes_with_the_one_before() -> None:
    hit = _hit(
        "A COMMIT may return SQLITE_BUSY when another process has an open read connection. "
        "When it fails in this way, nothing is lost and it may be tried once more later. "
        "Readers never block each other.\n"
    )
    answer = compose_documents("my COMMIT returned SQLITE_BUSY with a read connection open", [hit])
    assert "nothing is lost" in answer.text
    assert _CONTINUING.match("When COMMIT fails in this way, the transaction remains active.")
    assert _CONTINUING.match("If that happens, run the checkpoint again.")
    assert not _CONTINUING.match("When the reader clears, the COMMIT goes through.")
    assert _CONTINUING.match("If Bash determines it is being run in this fashion, it reads it.")


def test_asked_whether_to_do_something_the_sentence_that_advises_ranks_higher() -> None:
    units = units_of(
        "The AUTOINCREMENT keyword changes how rowids are chosen for the id column.\n\n"
        "The AUTOINCREMENT keyword imposes extra overhead and should be avoided if not "
        "strictly needed.\n",
        {"autoincr"},
        0,
        0,
    )

    def lead(question: str) -> float:
        scored = score_units(question, content_stems(question), units)
        advises = next(s.total for s in scored if "avoided" in s.unit.text)
        describes = next(s.total for s in scored if "rowids" in s.unit.text)
        return advises - describes

    should = "should i put AUTOINCREMENT on my id column?"
    does = "does AUTOINCREMENT go on my id column?"
    assert lead(should) > lead(does)


def test_a_runner_up_that_meets_the_bar_answers_when_the_best_ranked_does_not() -> None:
    text = (
        "A weak one is here.\n\nA strong one is here.\n\nAnother is here.\n\nA far one is here.\n"
    )
    units = units_of(text, set(), 0, 0)
    ranked = [
        Scored(units[0], 0.3, total=0.70, typed=True, evidence=0.30),
        Scored(units[1], 0.6, total=0.65, typed=False, evidence=0.60),
        Scored(units[2], 0.2, total=0.20, typed=False, evidence=0.20),
        Scored(units[3], 0.9, total=0.10, typed=False, evidence=0.90),
    ]
    assert _answering(ranked, 0.4, DEFAULT_TUNING.choose.promote_within) is ranked[1]
    assert (
        _answering(ranked, 0.25, DEFAULT_TUNING.choose.promote_within) is ranked[0]
    )  # the best-ranked one, when it meets the bar
    assert (
        _answering(ranked, 0.7, DEFAULT_TUNING.choose.promote_within) is None
    )  # only within `ChooseTuning.promote_within`


def test_a_name_the_question_gives_its_own_thing_is_no_sign_of_a_missing_topic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.offline.bar import _introduced_names

    assert _introduced_names("can I create a table called sqlite_users?") == {
        stem("sqlite_users"),  # the name, and its words
        "sqlite",
        "user",
    }
    assert _introduced_names('a macro named "\\foobar" breaks') == {"foobar"}
    assert _introduced_names("how do I rename a table?") == set()
    hit = {
        "number": 1,
        "document_id": 1,
        "title": "SQL syntax",
        "section": "CREATE TABLE",
        "source": "lang.html",
        "text": "Names that begin with sqlite_ are reserved for internal use, so a table "
        "cannot have one.",
        "bm25_rank": 1,
        "vector_distance": 0.3,
    }
    asked = compose_documents("can I create a table called sqlite_users?", [hit])
    assert asked.found and "reserved for internal use" in asked.text
    # read as a name the question is about, named nowhere, it would raise the bar too high
    monkeypatch.setattr("services.offline.bar._introduced_names", lambda question: set())
    assert not compose_documents("can I create a table called sqlite_users?", [hit]).found


def test_a_bound_said_in_words_is_a_maximum_or_a_minimum() -> None:
    from services.offline.read import units_of
    from services.offline.text import content_stems

    assert content_stems("must it be at least 14 characters?") == ["minimum", "14", "charact"]
    assert "maximum" in content_stems("no more than 3 attempts")
    unit = units_of("The filenames should contain at most eight characters.", set(), 0, 0)[0]
    assert "maximum" in unit.stems and "most" not in unit.stems
    passages = [
        _hit(
            "It is sensible to make your files as portable as possible. They should contain "
            "only visible 7-bit text; and the filenames should contain at most eight "
            "characters (plus the three letter extension).",
            section="Make it portable",
        ),
        _hit("A class file starts with \\NeedsTeXFormat.", 2, "Identification"),
    ]
    answer = compose_documents("max number of characters in a portable filename?", passages)
    assert answer.found and "at most eight characters" in answer.text


def test_a_rare_word_farther_away_in_the_best_sentences_passage_is_no_sign_of_another_topic() -> (
    None
):
    windows = units_of(
        "Usually you can open such a window by searching for cmd.\n\n"
        "It shows a prompt.\n\n"
        "To end your interactive Python session, call the exit() function to get back to "
        "your Windows command prompt.\n",
        set(),
        0,
        0,
    )
    unix = units_of("On Unix, a terminal runs a shell; cmd is not there.\n", set(), 1, 1)
    best = Scored(windows[2], 0.5, total=0.6, typed=True, evidence=0.5)
    terms = content_stems("on windows how do I quit the >>> prompt and get back to cmd?")
    # "cmd" is held by one other sentence only, two sentences away in the best one's passage.
    assert _rare_term_elsewhere(terms, windows, best, set(), set()) is None
    # Held by one sentence of another passage only, it says the best one is off topic.
    others = [*windows[1:], *unix]
    assert _rare_term_elsewhere(terms, others, best, set(), set()) == stem("cmd")
    # Held by the sentence right before the best one, it is the other case.
    near = units_of(
        "It shows a prompt, unlike cmd.\n\nTo end your session, call the exit() function to "
        "get back to your Windows command prompt.\n",
        set(),
        0,
        0,
    )
    best = Scored(near[1], 0.5, total=0.6, typed=True, evidence=0.5)
    assert _rare_term_elsewhere(terms, near, best, set(), set()) == stem("cmd")


# --- a FAQ's heading asks the question; a neighbour completes the best sentence --------------


class _HeadingSimilarity:
    """A heading ("... ?") is as close in meaning to the question as `heading`; a sentence
    holding `near` is `near_value` close, any other `low`."""

    def __init__(self, heading: float, near: str, near_value: float, low: float = 0.3) -> None:
        self.heading, self.near, self.near_value, self.low = heading, near, near_value, low

    def similarities(self, question: str, sentences: Sequence[str]) -> list[float]:
        return [
            self.heading if s.endswith("?") else self.near_value if self.near in s else self.low
            for s in sentences
        ]

    def read_once(self, question: str, text: str) -> float:
        return self.similarities(question, [text])[0]


def _said(question: str, hits: list[dict[str, Any]], similarity: _HeadingSimilarity) -> str:
    """The answer's body, composed with `similarity` standing in for the embedder."""
    context = AnswerContext(similarity=similarity)  # type: ignore[arg-type]  # a similarity of headings alone
    return _body(compose_documents(question, hits, context).text)


def test_a_section_whose_heading_asks_the_question_answers_with_its_first_sentence() -> None:
    question = "how do i make a python script executable on linux"
    faq = _hit(
        "You need to do two things: the file mode must allow running it, and the first "
        "line must begin with #! and the interpreter's path.\n\n"
        "The second can be done in a number of ways.\n",
        number=1,
        section="Library FAQ > How do I make a Python script executable on Unix?",
    )
    other = _hit(
        "See the list of tools that make an executable from a Python script.\n",
        number=2,
        section="Windows FAQ > Tools",
    )
    # The heading is embedded ahead with the section's sentences.
    assert sentence_texts(faq)[-1] == "How do I make a Python script executable on Unix?"
    assert not any(t.endswith("?") for t in sentence_texts(other))
    similarity = _HeadingSimilarity(0.9, "tools that make an executable", 0.6)
    assert _said(question, [other, faq], similarity).startswith("You need to do two things")
    # A heading asking something else, or one that asks nothing, gives its section no credit.
    for weak, section in ((0.7, faq["section"]), (0.9, "Library FAQ > Executable scripts")):
        similarity = _HeadingSimilarity(weak, "tools that make an executable", 0.6)
        plain = _said(question, [other, dict(faq, section=section)], similarity)
        assert plain.startswith("See the list of tools")


def test_the_sentence_next_to_the_best_comes_with_it_when_it_holds_what_the_best_lacks() -> None:
    hit = _hit(
        "Some websites dislike being browsed by programs. "
        "By default urllib identifies itself as Python-urllib/3.11. "
        "The way a browser identifies itself is through the User-Agent header. "
        "You can pass a dictionary of headers to a Request.\n"
    )
    question = "what User-Agent does urllib send by default?"
    similarity = _HeadingSimilarity(0.2, "User-Agent header", 0.8, low=0.45)
    body = _said(question, [hit], similarity)
    # In the document's order: the sentence before, then the best one.
    assert body.index("Python-urllib/3.11") < body.index("through the User-Agent header")
    # A word the best one's heading holds is no word it lacks: the heading names the topic.
    titled = {**hit, "section": "Fetching URLs > Headers of urllib by default"}
    body = _said(question, [titled], similarity)
    assert "Python-urllib" not in body
    # A neighbour holding no word the best one lacks is not brought in for that.
    asked = "how does a browser identify itself, through which header?"
    body = _said(asked, [hit], similarity)
    assert "Python-urllib" not in body


def test_a_neighbour_completes_the_best_sentence_with_the_code_it_announces() -> None:
    hit = _hit(
        "If you want each run to start afresh, change the call to:\n\n"
        "```\nlogging.basicConfig(filename='example.log', filemode='w')\n```\n\n"
        "The log file is then no longer appended to, so earlier messages are lost.\n"
    )
    question = "how do i make basicConfig overwrite the log file instead of appending to it"
    similarity = _HeadingSimilarity(0.2, "no longer appended", 0.8, low=0.6)
    body = _said(question, [hit], similarity)
    assert "filemode='w'" in body
    assert body.index("filemode='w'") < body.index("no longer appended")


def test_a_sentence_going_on_about_it_comes_with_the_one_it_goes_on_from() -> None:
    hit = _hit(
        "The project can be built into a wheel file. "
        "When the app is installed (not in editable mode), it uses a different directory "
        "for the instance folder. "
        "You can find it at venv/var/app-instance instead. "
        "The secret key must be changed before deploying.\n"
    )
    question = "installed the wheel on the server, what happened to the instance folder?"
    similarity = _HeadingSimilarity(0.2, "a different directory", 0.8, low=0.3)
    body = _said(question, [hit], similarity)
    assert "venv/var/app-instance" in body
    # "it" farther into the sentence is no reference back to the one before.
    moved = hit["text"].replace("You can find it at", "The installer tools always put it in")
    far = {**hit, "text": moved}
    assert "venv/var/app-instance" not in _said(question, [far], similarity)


def test_asked_for_a_way_the_instruction_after_the_answer_comes_with_it() -> None:
    hit = _hit(
        "If you read the config outside a request, you will get this error message:\n\n"
        "```\nRuntimeError: Working outside of the request.\n```\n\n"
        "If you see that error while setting up your app, you can open a request scope "
        "yourself since you hold the app object. "
        "Use app.scope() in a with block, and the code in the block sees the config. "
        "Scopes are cheap to open.\n"
    )
    similarity = _HeadingSimilarity(0.2, "this error message", 0.8, low=0.3)
    asked = "my app keeps saying working outside of the request when setting up, what do i do?"
    assert "Use app.scope() in a with block" in _said(asked, [hit], similarity)
    # Not asked for a way, the instruction is no part of the answer.
    told = "my app keeps saying working outside of the request when setting up. what's that?"
    assert "Use app.scope() in a with block" not in _said(told, [hit], similarity)
