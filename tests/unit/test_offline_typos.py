"""The offline model's question clean-up: typo correction (`typos.py`) and pleasantries
(`text.strip_pleasantries`)."""

from __future__ import annotations

from collections import Counter

import pytest

from services.offline.lexicon import EMPTY
from services.offline.text import expand_shorthand, stem, strip_pleasantries
from services.offline.typos import TypoCorrector, is_foreign, table_vocabulary
from services.offline.vocabulary import KnowledgeVocabulary
from tests.sample_lexicon import SAMPLE_LEXICON

TABLES = table_vocabulary(["directory", "manager_id", "Kwame Mensah", "notify-service", "Lisbon"])


def correct(text: str, known=None, tables: Counter[str] = TABLES) -> str:
    return TypoCorrector().correct(text, known, tables)


def test_names_and_identifiers_are_corrected_to_the_tables_words() -> None:
    assert correct("who does kwane mnsah report to") == "who does kwame mensah report to"
    assert correct("Kwane Mnsah's manager?") == "Kwame Mensah's manager?"
    assert correct("which team owns notiffy-service") == "which team owns notify-service"


def test_english_typos_are_corrected() -> None:
    assert (
        correct("how many people in the staff direcory") == "how many people in the staff directory"
    )
    assert correct("caanry auto abort thrresholds") == "canary auto abort thresholds"


def test_words_somebody_knows_stay_as_typed() -> None:
    # English words the knowledge base lacks: an absent topic must stay absent.
    assert (
        correct("guest wifi password for parental leave")
        == "guest wifi password for parental leave"
    )
    # The knowledge base's own jargon, and the tables' words.
    assert correct("keepassxc export", known=lambda s: s == "keepassxc") == "keepassxc export"
    assert correct("lisbon directory") == "lisbon directory"


def test_a_question_word_typed_without_its_apostrophe_stays_as_typed() -> None:
    typed = "a leaver still hasnt sent it back, doesnt answer and isnt reachable"
    assert correct(typed) == typed  # not "haunt", "doesn't" or "isn't" in other words


def test_a_capitalised_word_is_a_name_corrected_only_to_the_tables_words() -> None:
    assert correct("who does Fleur Janssen report to") == "who does Fleur Janssen report to"


def test_codes_numbers_and_short_words_are_never_touched() -> None:
    for text in ("sev2 ackn", "Q2 ETA for EMEAA", "the SSOO login", "pgcore14 backup", "ppl"):
        assert correct(text) == text


def test_a_word_the_knowledge_base_holds_wins_a_tie() -> None:
    assert correct("baseed") == "based"
    assert correct("baseed", known=lambda s: s == stem("basted")) == "basted"


def test_two_letters_swapped_win_a_tie_over_a_letter_dropped() -> None:
    # One edit either way, and "case" is the more frequent word: but "cuase" holds the
    # letters of "cause", swapped.
    holds = {stem(w) for w in ("case", "cause", "cease")}
    known = KnowledgeVocabulary(lambda: (1, sorted(holds)), lambda: 1).snapshot()
    assert correct("what can cuase that", known=known) == "what can cause that"


def test_a_word_is_corrected_only_into_a_word_the_knowledge_base_holds() -> None:
    # Into a word nobody here wrote, a correction only loses the word typed: "conda" is no
    # "condo", "params" no "prams", "backticks" no "backpacks", "helpdesk" no "helpless".
    holds = {stem(w) for w in ("install", "parameter", "backquote", "condo")}
    known = KnowledgeVocabulary(lambda: (1, sorted(holds)), lambda: 1).snapshot()
    typed = "install with homebrew? the max params, in backticks"
    assert correct(typed, known=known) == typed
    assert correct("install with conda", known=known) == "install with condo"
    # Without the knowledge base's words, the English ones are all there is to go by.
    assert correct("install with homebrew", known=None) == "install with homebred"


def test_a_word_is_a_name_unless_it_misspells_a_word_the_knowledge_base_holds() -> None:
    holds = {stem("condo")}
    assert is_foreign("conda", lambda s: s in holds) is False  # a typo of a word it holds
    assert is_foreign("conda", lambda s: False) is True  # it misspells nothing it holds
    assert is_foreign("conda") is False  # it misspells an English word
    assert is_foreign("parental", lambda s: False) is False  # English, however absent


def test_the_index_y_to_i_stems_count_as_known() -> None:
    vocabulary = KnowledgeVocabulary(lambda: (1, ["saturdai", "password"]), lambda: 1)
    known = vocabulary.snapshot()
    assert known.exactly(stem("saturday"))
    assert known.exactly(stem("password"))
    assert not known.exactly(stem("satrday"))
    assert correct("on-call pay on a satrday", known=known) == "on-call pay on a saturday"


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (
            "quick question - default geofence radius at a port any idea?",
            "default geofence radius at a port?",
        ),
        ("sorry to bother you, but code freeze dates?", "code freeze dates?"),
        ("postmortem deadline after a sev2 thank you so much", "postmortem deadline after a sev2"),
        ("and in toronto? thx", "and in toronto?"),
        ("so, and growth", "and growth"),
        ("hey, quick one: who owns billing? cheers", "who owns billing?"),
        ("do you know who owns shipment-api?", "who owns shipment-api?"),
        ("Hi there! Can you tell me the guest wifi policy please", "the guest wifi policy"),
    ],
)
def test_pleasantries_are_dropped(typed: str, meant: str) -> None:
    assert strip_pleasantries(typed) == meant


@pytest.mark.parametrize(
    "text",
    ["well-known ports", "so what about sev3", "right to disconnect policy?", "thanks", "hi"],
)
def test_meaningful_words_and_bare_pleasantries_are_kept(text: str) -> None:
    assert strip_pleasantries(text) == text


def test_a_short_question_word_with_two_letters_swapped_is_corrected() -> None:
    assert correct("and how lnog am i locked out for?") == "and how long am i locked out for?"
    assert correct("Waht is the hotel cap") == "What is the hotel cap"
    # Only into words that say what is asked, and only when one swap makes one.
    assert correct("the ecs cluster") == "the ecs cluster"
    assert correct("sso via okta") == "sso via okta"


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("how many wrong pw tries", "how many wrong password tries"),
        ("30% off for a 2yr deal", "30% off for a 2 year deal"),
        ("reset my PWD w/o mfa", "reset my password without mfa"),
        ("before okta locks me out", "before okta lockout"),
        ("approve failing the eu database over", "approve failover the eu database "),
        ("pwc and hr and the power team", "pwc and hr and the power team"),
        ("on call, how much for sat + sun?", "on call, how much for Saturday + Sunday?"),
        ("deploys mon-fri, not on fri pm", "deploys Monday-Friday, not on Friday pm"),
        ("i sat down, the sun was out", "i sat down, the sun was out"),
        ("I sat and waited", "I sat and waited"),
        ("whats the oncall pay", "whats the on-call pay"),
        ("post it in #oncall-handover", "post it in #oncall-handover"),  # a name
    ],
)
def test_chat_shorthand_is_written_out(typed: str, meant: str) -> None:
    assert expand_shorthand(typed) == meant


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("and the DR one?", "and the disaster recovery one?"),
        ("and if we let someone go?", "and if we fire someone?"),
        ("Dr Smith said let it go", "Dr Smith said let it go"),
        ("still hasnt sent back their macbook", "still hasnt return their macbook"),
        ("letting someone go (not their choice)", "fire someone (involuntary)"),
        ("to get the laptop back to IT", "to return the laptop to IT"),
        ("we got back from the trip", "we got back from the trip"),
    ],
)
def test_the_sample_lexicon_writes_its_phrases_as_its_documents_do(typed: str, meant: str) -> None:
    assert SAMPLE_LEXICON.rewrite(expand_shorthand(typed)) == meant
    if typed != meant:  # the sample's words are its lexicon's, not the code's
        assert EMPTY.rewrite(expand_shorthand(typed)) != meant
