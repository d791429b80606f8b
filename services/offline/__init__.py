"""The embedded default model: an offline, extractive "LLM" that needs no provider key.

Why a real PydanticAI model (a `FunctionModel`) instead of a shortcut around the agent: the
offline answer then goes through exactly the same agent loop, tools, limits, streaming and
history as a hosted LLM, so everything downstream (citations, tool-call records, SSE
streaming) behaves identically whichever model answered.

How a turn runs:

1. First request of a turn (no tool results since the latest user prompt): read the turn. Chat
   shorthand is written out ("pw", "2yr", "locks me out" -> "lockout"), typos are corrected
   (`typos.py`), and a country no document or table names, asked about as a place, reads as
   "another country" (`places.py`). A personal pronoun stands for the person a recent answer
   named ("what's their email" after "who is Chen Wei's manager?"), and "that team" / "this
   office" for the value of that kind a recent answer named. An elliptical follow-up borrows
   the previous question's words, its own words replacing those they stand for: the words
   after the same preposition, a name of the same shape ("and \\Huge?" after "how big is
   \\footnotesize ...?", "and DEBUG?" after "logging.WARNING"), the word before the same noun
   ("and the halt level?"), or, for one word, the earlier word closest in meaning under the
   local embedder ("what about latex?" after "... in html output?"). The borrowed words
   weigh half when sentences are scored, and a sentence means the follow-up at least as much
   as it means the whole question it stands for (`question_follow_up.py`). Call
   `search_knowledge_base` with that query. When the question, or for a follow-up the whole
   question it stands for ("and in lisbon?" -> "how many people are based in lisbon"),
   clearly targets a loaded table (its name, a column it asks about, a column value, plus
   something to filter on), also call `lookup_structured_data` with one safe SELECT
   (`sql_plan.py`, `sql_match.py`, `sql_build.py`): ranked LIKE matches, exact
   values, integer filters ("tier 1"), a self-join for a manager or for someone's direct
   reports, a COUNT for "how many", the rows tied at the extreme for "who joined first", the
   top of a group's reporting line for "who leads X". A question linked to one table's
   cells by that table's own headers and values (`cell_link.py`, `cell_words.py`: a row
   named by a value, a number after its column's words, a comparison or a superlative, and
   a column asked for) is looked up by a SELECT of whole rows instead (`cell_answer.py`),
   unless the lookup is one only the planner above makes (a count, a join, a group's head),
   and answered with the cell(s) asked for, the row shown and the table cited.
2. Next request (tool results present): compose the answer from the tools' `metadata`:
   - SQL: when the best row really matches what was asked (its label holds the named entity,
     or every filter term, and it is on the question's topic), a one-line answer such as
     "The manager of X is Y [table: t]"; a bare list of rows never answers "how long".
   - Documents: split the retrieved sections into sentences (table rows become
     "label — header: value; ..." sentences; a soft-wrapped line goes on in the next one
     when that starts with a lower-case word or the line ends on a comma or a word no
     sentence ends on; a numbered heading such as "3.4 A minimal class file" is context, no
     sentence), score each by meaning (cosine under the local
     embedder) and by IDF-weighted overlap of the question's content words (light stemming,
     typo-tolerant, stopwords dropped, numbers optional; heading and table-header words count
     half; Snowball stems, abbreviations and a few synonyms get partial credit; a message's
     asking clause counts on its own too), plus small bonuses for rank and for holding the
     kind of fact asked for (numbers for "how long/often/many", names for "who", days/dates
     for "when", a sentence that says what to do for "how do I", a version's number being
     no quantity; "every 90 days" asks about a period; the row whose stated range holds an
     amount of the question, `amounts.py`, which also counts as evidence; a code asked for is
     read in its own entry of a listing sentence; a "Label: value" field whose label the
     question asks for, such as "Default: 10 000."),
     and small penalties for a sentence on topic only through its heading, for
     one without the identifier the question names, and for "Deputy owner:" when "Owner:" is
     there. Sentences aimed at an assistant ("ignore your instructions") are never
     candidates. The answer leads with the sentence of the kind asked for. A hit
     whose current version (its recorded `superseded_by`, never a guess from titles or
     dates) was retrieved too is dropped first (`versions.py`). Up to three sentences, each
     followed by [n], then a **Sources** list naming the version used.
   - Weak evidence (no hits, or the best sentence's evidence below what is needed; each
     question word in no retrieved passage raises the bar, unless it is very common English;
     a name of code the question types (FTS5, isolation_level, ROW_NUMBER()) that no
     retrieved passage and no document holds; a quarter no passage names while others are
     named; a question word only one other
     candidate sentence holds raises it too; a phone number asked for that no sentence
     holds) gives exactly `NOT_FOUND_ANSWER`
     plus one clarifying question. Thresholds are calibrated on the evaluation set's dev split.
   - Two steps: when the documents' answer names a person or title of a table row and the
     question asks for one of its columns ("... and what's their email?"), one more SELECT
     looks the row up, and its fact follows the documents' answer, both sources cited.
3. At most one extra search per turn, like an LLM told to "search again": if nothing was
   found, a narrower query without the words most passages share (a company name); the
   turn's second search is that one. A tool call that came back as a retry ends the turn
   with an answer from what there is.
4. Streaming yields the same decisions: tool calls as `DeltaToolCalls`, text in sentence
   pieces. Each request is planned once, streamed or not.

The planner needs no state: every decision is recomputed from the messages (tool-call ids
are PydanticAI's own and say nothing), so blocking and streaming runs give the same answer.

What the turn decided before the model reaches it as a value: the turn binds the model to
its `TurnDecisions` (`OfflineExtractiveModel.for_turn`, `use_cases/chat/decisions.py`). A
declined turn's model gives the decline word for word and looks nothing up (chat turns
decline without a model; advice still asks the model, for its structured output). Every
final answer's facts, its retrieval-evidence confidence and whether it is the can't-find
answer, are read back from the bound model (`answer_facts()`, an `AnswerFacts`).
"""

from services.offline.context import CLARIFYING_QUESTION
from services.offline.model import (
    MODEL_NAME,
    OfflineExtractiveModel,
    build_offline_model,
)
from services.offline.question_follow_up import narrowed_query, search_query_for

__all__ = [
    "CLARIFYING_QUESTION",
    "MODEL_NAME",
    "OfflineExtractiveModel",
    "build_offline_model",
    "narrowed_query",
    "search_query_for",
]
