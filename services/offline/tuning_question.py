"""The knobs of reading the question and of the table lookup: the follow-up and search-query
thresholds (`QuestionTuning`) and the SQL planner's and table answer's limits, weights and
confidences (`SqlTuning`). Both are groups of the answerer's one tuning object
(`services/offline/tuning.py`); the defaults are the calibrated values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuestionTuning:
    """Follow-ups and the search query (`question_follow_up.py`)."""

    #: A sentence of at most this many words that asks about "it" or "that" asks about what
    #: came before, however long the message around it ("how do i remove it?").
    short_asking_words: int = 8
    #: A message of at most this many words with a pronoun ("it", "they", "there") goes on from
    #: the previous question.
    follow_up_words: int = 12
    #: Words of the previous question a follow-up's search query borrows, at most.
    borrowed_words: int = 8
    #: Cosine similarity (under the local embedder) a previous question's word needs with a
    #: follow-up's one word to be the word it stands in for ("latex" for "html": 0.53,
    #: "acronym" for "abbreviation": 0.83, "contractors" for "employees": 0.53), and its lead
    #: over the next.
    kin_by_meaning: float = 0.4
    kin_margin: float = 0.05
    #: A narrower query after a search that found nothing: it needs this many passages to
    #: judge by, drops the words at least `narrow_share` of them hold (they did not
    #: discriminate: a company name, say), and keeps at least `narrow_words` words.
    narrow_hits: int = 3
    narrow_share: float = 0.5
    narrow_words: int = 2


@dataclass(frozen=True)
class SqlTuning:
    """The table lookup: planning the SELECT (`sql_plan.py`, `sql_match.py`, `sql_build.py`,
    `cell_link.py`) and answering from its rows (`compose_sql.py`, `cell_answer.py`)."""

    #: Rows returned by the generated lookup (four times as many for lists without ranking),
    #: and how many filter terms and text columns it uses.
    row_limit: int = 5
    max_terms: int = 5
    max_text_columns: int = 6
    #: Keep generated SQL well under the sandbox's default 4,000-character limit: a term
    #: matched in a column costs about `chars_per_match` characters.
    max_sql_chars: int = 3000
    chars_per_match: int = 80
    #: Share of a name's words the question must hold to name it without its exact wording.
    min_name_share: float = 0.6
    #: Values longer than this (in words) are free text (descriptions), not names or titles.
    max_name_words: int = 8
    #: A row's relevance: a named entity weighs `entity_weight` (other words 1), a match in
    #: the label column counts `label_weight` times.
    entity_weight: int = 3
    label_weight: int = 2
    #: Which table a question targets most: points for naming the table, for each value or
    #: integer filter named, each column asked for, a word of the table's name, each row
    #: entity, and a group with a reporting line (more specific).
    named_table_score: int = 3
    value_score: int = 2
    column_score: int = 1
    table_word_score: int = 1
    entity_score: float = 0.5
    head_score: int = 2
    #: A question linked to a table's cells (`cell_link.py`) may hold this many content
    #: words that are no header's, value's or table's; with more it is about something else.
    max_unexplained_words: int = 1
    #: Rows and columns shown when the answer is a table.
    table_rows: int = 10
    table_columns: int = 6
    #: Share of the question's other words a row must hold more than, when it only contains
    #: the name asked for ("Mean time to acknowledge (SEV1/SEV2)" for "updates during a
    #: SEV2"); other words of the question from which on a row matched outside its name must
    #: hold some.
    min_topic_share: float = 0.5
    min_topic_words: int = 3
    #: Confidence of a table answer: a count, a group's head or a row's reports; one row's
    #: values when the row is named by its label, or matched otherwise; a table of rows.
    counted_confidence: float = 0.8
    named_row_confidence: float = 0.85
    matched_row_confidence: float = 0.65
    rows_confidence: float = 0.6


DEFAULT_QUESTION_TUNING = QuestionTuning()
DEFAULT_SQL_TUNING = SqlTuning()
