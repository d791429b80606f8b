"""What one answer is composed with besides the question and the tools' results: the
knowledge base's lexicon, the clarifying question of a can't-find answer and the tuning.

The offline model builds one `AnswerContext` per turn and passes it explicitly down the
pipeline (`pipeline.answer`); nothing is read from a context variable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from services.offline import tuning
from services.offline.abbreviations import Abbreviation
from services.offline.lexicon import EMPTY, Lexicon
from services.offline.semantic import SentenceSimilarity
from services.offline.tuning import Tuning

#: The clarifying question after the can't-find answer unless the deployment words its own
#: (`NOT_FOUND_HINT`).
CLARIFYING_QUESTION = "Could you rephrase the question, or say which document or topic you mean?"

#: The trained reader (`services.knowledge.embedders.reader`): (question, candidate texts) ->
#: a score for each (a logit: above 0, the sentence reads as stating the answer).
SentenceReader = Callable[[str, Sequence[str]], Sequence[float]]


def _default_tuning() -> Tuning:
    """`tuning.DEFAULT_TUNING` as it is when the context is made (a bench may swap it)."""
    return tuning.DEFAULT_TUNING


@dataclass(frozen=True)
class AnswerContext:
    """The lexicon, the can't-find answer's clarifying question, the knobs, and the
    knowledge base's helpers: the sentence embedder (`similarity`), whether it holds a word
    anywhere (`known`, `vocabulary.KnowledgeVocabulary`), the abbreviations it defines, the
    lines its documents repeat as boilerplate (`boilerplate`, as `repeated_lines.line_key`
    writes them) and the trained reader."""

    lexicon: Lexicon = EMPTY
    not_found_hint: str = CLARIFYING_QUESTION
    tuning: Tuning = field(default_factory=_default_tuning)
    similarity: SentenceSimilarity | None = None
    known: Callable[[str], bool] | None = None
    abbreviations: Sequence[Abbreviation] = ()
    reader: SentenceReader | None = None
    boilerplate: frozenset[str] = frozenset()


#: The context of an answer composed outside a turn (tests, benches, tools).
DEFAULT_CONTEXT = AnswerContext()
