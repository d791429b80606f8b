"""Every number the offline answerer is tuned by, in one typed object (`Tuning`).

One frozen dataclass per stage of the documents answer (`read`: splitting passages into
sentences; `score`: ranking them; `choose`: the refusal bar and the sentences an answer takes;
`confidence`), each field with the note of how it was set. The pipeline reads the knobs from
its context (`context.AnswerContext.tuning`) and hands them down; code that no answer's
context reaches (splitting a passage into sentences while ingesting it, the conflict scan,
the conversation summary) reads `DEFAULT_TUNING` when it is called or made, never when it is
imported, so that a bench swapping `DEFAULT_TUNING` changes it too.
A bench fits a knob by answering with a changed copy (`dataclasses.replace`). The fields are
listed, with their notes and values, in docs/tuning.md (checked by tests/unit/test_tuning.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from services.offline.tuning_question import QuestionTuning, SqlTuning


@dataclass(frozen=True)
class ReadTuning:
    """Splitting a passage into candidate sentences (`read.py`, `read_lines.py`)."""

    #: A list is joined to its lead-in sentence only when the result stays this short.
    max_merged_words: int = 60
    #: A numbered heading as PDFs and text files print it ("3.4 A minimal class file") or a
    #: line in capitals is a heading only with at most this many words.
    numbered_heading_words: int = 12
    #: A text filled to a width (a plain-text manual, a hard-wrapped Markdown file): its
    #: longest line is at least this long, and a line broken by the filling this share of it
    #: at least.
    fill_width_min: int = 60
    fill_line_share: float = 0.75
    #: A lead-in ("... in the argument specification:") is a sentence of this many words at
    #: least; a shorter line ending with ":" is a label ("create-table-stmt:"), announcing
    #: nothing.
    lead_in_words: int = 3
    #: Code in the middle of a sentence (joined to it in one line): at most this many lines
    #: and characters.
    lead_code_lines: int = 3
    lead_code_chars: int = 160
    #: What a lead-in shows of the block it announces (its first lines joined by "; ") is
    #: cut this many characters beyond `lead_code_chars`: the last line kept may run over.
    own_code_extra_chars: int = 40
    #: A code block a sentence announces ("... change the call to:"), or the commands a
    #: comment of an example block introduces ("# Extract the src directory" over "$ borg
    #: extract ..."), shown whole, line by line, up to about this many characters: cut at a
    #: line (a command's continuation lines stay with it), never inside one.
    block_chars: int = 600
    #: A definition list's term, as text files and reStructuredText write it: a short line of
    #: its own (at most this many characters and words), unindented, with its description
    #: indented on the lines below.
    definition_term_chars: int = 60
    definition_term_words: int = 6


@dataclass(frozen=True)
class ScoreTuning:
    """Ranking the candidate sentences (`score.py`) and matching words (`match.py`)."""

    #: Score bonus for a sentence holding the kind of fact asked for.
    intent_bonus: float = 0.12
    #: The same for a sentence that says what to do, asked how to do something: the sign is
    #: looser (a manual's settings are described in the imperative, "Add syntax highlighting").
    method_bonus: float = 0.06
    #: Ranking bonus for the first passages of the search: this much over (1 + its rank).
    rank_bonus: float = 0.05
    #: Weight of a question term that no retrieved passage holds, as a share of the weight of
    #: a term held by exactly none of the candidate sentences (the IDF ceiling).
    absent_term_weight: float = 0.75
    #: A term found in this share of the retrieved passages or more (three at least) weighs
    #: `shared_term_weight` of its IDF weight: it does not tell passages apart (a company name).
    shared_term_share: float = 0.6
    shared_term_weight: float = 0.5
    #: ... but only among this many retrieved passages at least: two passages sharing a word
    #: say nothing of how common it is.
    shared_term_min_passages: int = 3
    #: Credit for a question term found only in a sentence's heading or table header.
    context_credit: float = 0.5
    #: Share of lexical coverage (vs meaning) in a sentence's evidence.
    lexical_weight: float = 0.3
    #: Coverage added per question phrase (two adjacent content words) kept together; at
    #: most `max_phrases` count.
    phrase_bonus: float = 0.06
    max_phrases: int = 2
    #: Two content words are a phrase kept together when at most this many words apart.
    phrase_window: int = 2
    #: Ranking penalty for a sentence that holds none of the question's words itself (only
    #: its heading does): it is about the topic, but rarely the statement asked for.
    heading_only_penalty: float = 0.05
    #: Ranking bonus for a sentence naming the measure a "how long/big/old ... be?" question
    #: asks for ("length"), which its words do not hold.
    measure_bonus: float = 0.06
    #: Ranking bonus for a sentence stating a count of what the question counts: "There must
    #: be at least two columns" for "can a simple table have only 1 column?" or "how many
    #: columns".
    count_bonus: float = 0.1
    #: Ranking bonus for a sentence stating a range that holds an amount of the question: "a
    #: 15% discount" is decided by the row "10% – 25%", not by "up to 10%" (`amounts.py`).
    range_bonus: float = 0.1
    #: Evidence added to such a row: an amount of the question falling in a row's range is
    #: near-certain evidence that the row decides it, which the embedder underrates in a short
    #: row.
    range_evidence: float = 0.06
    #: Ranking penalty for "Deputy owner: ..." when an "Owner: ..." sentence is also retrieved.
    qualified_label_penalty: float = 0.1
    #: Ranking penalty for a sentence (and heading) without the identifier the question names:
    #: "how long are pg-core backups kept" is not answered by "ClickHouse backups are kept 14
    #: days". Fitted on the union of the corpora's dev splits (`python -m
    #: bench.check_ablation`); without the check, answers are lost (docs/notes/history.md).
    missing_identifier_penalty: float = 0.1
    #: Evidence added to a sentence that itself holds every identifier or code the question
    #: names ("STALLED", "pg-core"), or defines the one-word term asked about: near-certain
    #: topic evidence, which the embedder underrates in a long list sentence.
    identifier_evidence: float = 0.05
    #: Ranking penalty for a sentence that only says where something is told
    #: (`score._points_elsewhere`); a pointer of `pointer_words` words or more says something
    #: of its own besides.
    pointer_penalty: float = 0.1
    pointer_words: int = 14
    #: Ranking bonus for a field whose label the question asks for ("the default ...", "the
    #: alias for ..."): the field's value is what was asked, however short the field is.
    field_bonus: float = 0.1
    #: A field's label is the question's when each of its words (at most three) matches a
    #: question word with at least this credit (`match`, typos not counted): the word itself,
    #: a synonym or a shared start, not an abbreviation.
    field_label_credit: float = 0.7
    #: A field whose label has more words than this is a sentence, not a field the question
    #: names.
    field_label_words: int = 3
    #: Ranking penalty for a sentence of fewer than `short_sentence_stems` words (a fragment)
    #: and for one of more than `long_sentence_stems` (a paragraph read as one sentence).
    short_sentence_penalty: float = 0.1
    short_sentence_stems: int = 3
    long_sentence_penalty: float = 0.05
    long_sentence_stems: int = 60
    #: Weight of a term a follow-up borrowed from the previous question, against its own terms.
    background_weight: float = 0.5
    #: Credit for a word that a numbered code starts with: "what sev is it" and "SEV2".
    code_credit: float = 0.8
    #: Credit for an abbreviation: a term that starts a much longer word ("ack", "acknowledg").
    abbreviation_credit: float = 0.5
    #: Credit for a word of the same group as the question's word ("kept" for "retention").
    synonym_credit: float = 0.7
    #: Credit for a word sharing the question word's first `shared_start_letters` letters
    #: ("rotat", "rotation"); both words must be that long at least.
    shared_start_credit: float = 0.7
    shared_start_letters: int = 5
    #: A question word shorter than this matches only itself; one of exactly this length is
    #: too short for typos or shared starts, and matches only as an abbreviation.
    min_match_letters: int = 3
    #: An abbreviation starts a word at least this many letters longer than itself ("ack",
    #: "acknowledg").
    abbreviation_extra_letters: int = 3
    #: Credit for a typo of the question word (one edit, or two in long words).
    typo_credit: float = 0.6
    #: A typo is one edit, two from a question word of this many letters; the sentence's word
    #: has `typo_min_letters` letters at least.
    typo_two_edit_letters: int = 8
    typo_min_letters: int = 4


@dataclass(frozen=True)
class ChooseTuning:
    """The refusal bar and the sentences an answer takes (`bar.py`, `choose.py`,
    `candidates.py`)."""

    #: The best sentence's evidence (coverage and meaning mixed) needed to answer; calibrated
    #: on the evaluation set's dev split (`almanac eval answers --split dev`; 226 cases,
    #: 2026-11-23: the middle of the widest gap near 0.4 between an answerable case's evidence
    #: and a refusal case's, with 3 refusal cases answered and 4 answerable ones refused).
    min_evidence: float = 0.395
    #: Without a sentence embedder: the lexical coverage needed to answer.
    min_coverage: float = 0.42
    #: Evidence needed on top, per question word that no retrieved passage holds (the search
    #: ranks any passage holding a rare word highly, so such a word is likely nowhere in the
    #: knowledge base: "parental leave"). One such word raises the bar; it never decides alone.
    absent_term_penalty: float = 0.08
    #: Evidence needed on top when a question word that is no English word (a product, a tool,
    #: a platform: "pyinstaller", "kubernetes") is named nowhere in the knowledge base: the
    #: question is about something the knowledge base does not cover, however much else it
    #: shares.
    foreign_term_penalty: float = 0.25
    #: Evidence needed on top when the best sentence lacks a question word that exactly one
    #: other candidate sentence holds, in another passage or right next to it ("how accurate
    #: is tidecast for *rail*": the sentence after the best one names rail, the best one is
    #: about road): the best sentence is likely about a neighbouring topic or the other case.
    rare_term_penalty: float = 0.1
    #: A word this common in English (pyspellchecker's frequency list: "dark", "parents",
    #: "point", "went") says how something is asked, not what about: its absence never raises
    #: the bar. Topics a knowledge base may lack are rarer ("dress" 92k, "summer" 70k,
    #: "parental" 4k).
    common_word_frequency: int = 100_000
    #: A word absent from the knowledge base names something (a tool, a product: "conda")
    #: only with at least this many letters (`typos.is_foreign`): shorter ones are mostly
    #: slang and typos.
    foreign_min_letters: int = 5
    #: A question word of at least this many letters that is an English word as typed gets
    #: no typo credit ("paternity" is no "pattern"); shorter words are too often typos of
    #: each other.
    spelt_min_letters: int = 5
    #: A word capitalised inside a sentence is a name with at least this many letters ("Zed",
    #: not "I" or "OK").
    proper_name_min_letters: int = 3
    #: A word sharing this many first letters with a word of the knowledge base counts as
    #: known (`vocabulary.KnownWords`: "rotat" for "rotation").
    known_prefix_letters: int = 5
    #: A line that at least this share of the knowledge base's documents repeat word for word,
    #: and `boilerplate_documents` of them at least, is boilerplate (a footer, a navigation
    #: bar: services/knowledge/repeated_lines.py): kept searchable, never an answer's sentence
    #: nor evidence for one. A manual's shared table of options (7 of 21 pages) stays content.
    boilerplate_share: float = 0.5
    boilerplate_documents: int = 3
    #: When the best-ranked sentence falls short of the bar, the runners-up (ranked below it
    #: by the bonuses for the kind of fact asked for) that may answer in its place: up to this
    #: rank.
    promote_within: int = 3
    #: Sentences are embedded with their document title and section ("Travel Policy, 3.
    #: Accommodation: Toronto — Cap per night: €250"), which a bare table row or list item
    #: needs.
    embed_with_label: bool = True
    #: Candidate sentences scored by meaning at most: each uncached sentence costs one
    #: embedding (~3 ms here), and long sections (a manual's chapter, a FAQ page) hold
    #: hundreds. Past this, the sentences sharing most of the question's words are kept, with
    #: the sentence after each of the best (it may complete them) and the one before each of
    #: the very best (a sentence opening "That means ..." needs it).
    max_candidates: int = 64
    #: How the shortlist of `max_candidates` is filled: this share of it with the sentences
    #: sharing most of the question's words, then the sentence after each of the best
    #: `shortlist_next_share` of it and the one before each of the best
    #: `shortlist_previous_share`, then the next by shared words.
    shortlist_overlap_share: float = 0.625
    shortlist_next_share: float = 0.25
    shortlist_previous_share: float = 0.125
    #: In the shortlist's count of shared words, a word found only in a sentence's heading
    #: counts this much.
    shortlist_context_credit: float = 0.5
    #: Similarity of the question to a section heading that itself asks a question (a FAQ's
    #: entry: "How do I make a Python script executable on Unix?") from which on the section's
    #: first sentence, which answers the heading, means what the question asks as much as the
    #: heading does. On the dev splits, 0.7 to 0.8 make the same answers.
    asking_heading_match: float = 0.8
    max_sentences: int = 3
    #: Extra sentences must score at least this share of the best sentence.
    extra_sentence_ratio: float = 0.8
    #: ... and have at least this share of the evidence the best sentence needed.
    extra_sentence_evidence: float = 0.75
    #: Share of the extra-sentence bar a sentence of the kind asked for needs in the best
    #: sentence's own section.
    same_section_evidence: float = 0.75
    #: Two sentences sharing more than this share of their words (Jaccard) are near-duplicates:
    #: an answer takes one of them.
    near_duplicate: float = 0.6
    #: For "who": a sentence naming someone this close to the best one (in sentences, same
    #: section) may lead the answer whatever its own evidence.
    next_to_best: int = 2
    #: The best `carry_next_within` sentences of an answer may bring the sentence after them
    #: (it completes them: the remedy after a warning, the command after its lead-in).
    carry_next_within: int = 2
    #: A sentence holding at most this many words of its own beyond the question's only
    #: restates what was asked ("Transactions do not nest."): the next one says what to do.
    echo_novel_stems: int = 3
    #: How far after the chosen sentences of a passage its remedy may come, in sentences.
    remedy_reach: int = 4


def _confidence_weights() -> Mapping[str, float]:
    return MappingProxyType({"margin": 3.16, "whole": 3.09, "covered": 1.45})


@dataclass(frozen=True)
class ConfidenceTuning:
    """A documents answer's confidence (`confidence.py`)."""

    #: The confidence of a documents answer: a logistic model of how far its best sentence's
    #: evidence clears the bar it had to reach (`margin`), of what the chosen sentences read
    #: together mean next to the question (`whole`: cosine similarity under the local
    #: embedder) and of the share of the question's own words they hold (`covered`), fitted on
    #: the union of the dev splits of every corpus but the held-out one, each corpus weighing
    #: the same (`python -m bench.confidence_fit`, which also prints how each recorded feature
    #: separates right from wrong, and each corpus's figure when the model is fitted without
    #: it): AUROC 0.71 on average with each corpus left out (docs/notes/history.md). The caps below
    #: still apply.
    bias: float = -1.91
    weights: Mapping[str, float] = field(default_factory=_confidence_weights)
    #: The share of an answer's confidence that is the trained reader's belief that a chosen
    #: sentence states the answer: 0.6, the best on the dev splits the reader never saw
    #: (rst-spec, sqlite-docs; `bench.reader_confidence`). It reads only the chosen sentences.
    reader_share: float = 0.6
    #: An answer none of whose sentences holds the kind of fact asked for (a number for "how
    #: many", a name for "who", a date for "when") never reports more than this: below "high"
    #: (0.6 in use_cases.confidence.estimator's default phrase bands).
    untyped_cap: float = 0.55
    #: An answer whose sources disagree on the value asked for (`conflicts.py`) never reports
    #: more than this: at most one of the values holds, and which one is not known. Blended
    #: with retrieval support (use_cases.confidence.estimator), the figure shown stays
    #: "moderate" or below.
    conflict_cap: float = 0.2
    #: Two answering sentences of different documents, their numbers masked, say the same
    #: thing (so that different values are a disagreement, `conflicts.py`) from this cosine
    #: similarity under the sentence embedder ("minimum length of N characters" / "Minimum
    #: length — Requirement: N characters" 0.65; a rule and an unrelated one of the same unit
    #: 0.3-0.55) ...
    same_subject_meaning: float = 0.6
    #: ... or, without the embedder, from this share of shared word stems (Jaccard).
    same_subject_overlap: float = 0.5
    #: Candidates beyond the answer's own sentences that are checked for a disagreement.
    compared_sentences: int = 8
    #: A can't-find answer never reports more confidence than this.
    not_found_cap: float = 0.3
    #: An answer from a passage the search ranked lower is likelier to answer a neighbouring
    #: question: the confidence is multiplied by 1 - `passage_weight` x (1 - 1/(1 + rank)),
    #: rank 0 for the search's first passage (x0.875 for the second, x0.83 for the third).
    passage_weight: float = 0.25
    #: The `agreement` feature of a passage found by only one retrieval leg (words or
    #: meaning); 1 for both, 0 for neither.
    one_leg_agreement: float = 0.5
    #: The most a documents answer reports before feedback calibrates it
    #: (`/confidence/auto-tune`), multiplied in so that the order of answers is kept: on
    #: corpora never tuned on, wrong answers reached 0.95, and a wrong answer shown as
    #: near-certain is the worst failure a confidence can have.
    ceiling: float = 0.89


@dataclass(frozen=True)
class AdviceTuning:
    """Structured advice's other options (`advice.py`): documents retrieved beside the cited
    ones that the advice names as alternatives."""

    #: At most this many alternatives: more would bury the advice.
    max_alternatives: int = 2
    #: An alternative's passage ranks below this in its own search (words or meaning): a
    #: lower one is likelier about something else.
    alternative_max_rank: int = 3
    #: The share of the question's content words an alternative's best sentence must hold.
    alternative_min_share: float = 0.5
    #: An alternative's quoted sentence is cut to this many characters (with "…").
    reason_chars: int = 240


@dataclass(frozen=True)
class SummaryTuning:
    """The offline model's extractive conversation summary (`summary.py`): a sentence's score
    is its similarity to the conversation's centroid plus these bonuses."""

    #: Bonus for coming early in the conversation, falling linearly to 0 at its end: openings
    #: say what a conversation is about.
    position_bonus: float = 0.1
    #: Bonus for a question the user asked.
    question_bonus: float = 0.05


@dataclass(frozen=True)
class Tuning:
    """The offline answerer's knobs, one group per stage."""

    read: ReadTuning = field(default_factory=ReadTuning)
    score: ScoreTuning = field(default_factory=ScoreTuning)
    choose: ChooseTuning = field(default_factory=ChooseTuning)
    confidence: ConfidenceTuning = field(default_factory=ConfidenceTuning)
    question: QuestionTuning = field(default_factory=QuestionTuning)
    sql: SqlTuning = field(default_factory=SqlTuning)
    advice: AdviceTuning = field(default_factory=AdviceTuning)
    summary: SummaryTuning = field(default_factory=SummaryTuning)


DEFAULT_TUNING = Tuning()
