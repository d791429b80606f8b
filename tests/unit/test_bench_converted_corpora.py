"""What `bench.bench_converted_corpora` says of a question lost in conversion: whether its
fact survived the conversion, found as the scoring finds it in an answer."""

from __future__ import annotations

from bench.bench_converted_corpora import facts_kept
from use_cases.evaluation.answers import AnswerCase, mentions_fact


def test_a_fact_is_found_anywhere_in_a_text_as_in_an_answer() -> None:
    text = "Section 3\nThe font file t1ptm.fd names Adobe’s Times."
    assert mentions_fact(text, ["T1PTM.FD"])  # case aside, as in answers
    assert mentions_fact(text, ["Adobe's Times"])  # quotes compare straight
    assert not mentions_fact(text, ["tiptm.fd"])
    assert mentions_fact(text, ["3"])
    assert not mentions_fact("Section 30", ["3"])  # a number matches only whole


def test_facts_kept_reads_only_the_sources_a_case_expects() -> None:
    texts = {
        "guides/fntguide.pdf": "OCR read the name as tiptm.fd here.",
        "guides/usrguide.pdf": "The file t1ptm.fd is loaded.",
        "notes/other.md": "t1ptm.fd, named in another document.",
        "old-fntguide.pdf": "t1ptm.fd, in a file whose name only ends as expected.",
    }
    cases = [
        AnswerCase("lost", "Which file?", "kb", ("t1ptm.fd",), ("fntguide.pdf",)),
        AnswerCase("kept", "Which file?", "kb", ("t1ptm.fd",), ("usrguide.pdf",)),
        AnswerCase("no-source", "Which file?", "kb", ("t1ptm.fd",)),
        AnswerCase("refusal", "Which hook?", "refuse", (), ("fntguide.pdf",)),
    ]
    assert facts_kept(cases, texts) == {"lost": False, "kept": True}
