"""What the container (`bootstrap`) and a server's planning processes (`answer_processes`) both
build: the embedder, the knowledge base's lexicon and the offline model's sentence vectors.
In a module of their own, so neither of those imports the other, and a planning process
starts without importing the whole composition root."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from backend.config import Settings
from use_cases.knowledge.ports import Embedder, Reranker
from use_cases.shared.errors import ConfigurationError

if TYPE_CHECKING:  # the offline model's modules load pydantic-ai: imported where used
    from services.knowledge.embedders.reader import OnnxReader
    from services.offline.context import SentenceReader
    from services.offline.lexicon import Lexicon
    from services.offline.sentence_store import SentenceVectorFile

__all__ = [
    "LOCAL_MODEL_DIRNAME",
    "build_embedder",
    "build_reader",
    "build_sentence_vectors",
    "load_lexicon",
]

#: The folder under MODELS_DIR that holds the local embedder's weights.
LOCAL_MODEL_DIRNAME = "all-MiniLM-L6-v2"


def build_embedder(settings: Settings) -> Embedder:
    provider = settings.embeddings.provider
    model = settings.embeddings.effective_model
    if provider == "local":
        from services.knowledge.embedders import MiniLMEmbedder

        if model != "all-MiniLM-L6-v2":
            raise ConfigurationError(
                f"The local embedder only provides all-MiniLM-L6-v2, not {model!r}."
            )
        return MiniLMEmbedder(settings.embeddings.models_dir / LOCAL_MODEL_DIRNAME)
    if provider == "openai":
        from services.knowledge.embedders import OpenAIEmbedder

        if settings.providers.openai_api_key is None:
            raise ConfigurationError("EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY.")
        return OpenAIEmbedder(
            settings.providers.openai_api_key.get_secret_value(),
            model=model,
            base_url=settings.providers.openai_base_url,
            batch_size=settings.embeddings.batch_size,
            timeout=settings.providers.timeout,
            max_retries=settings.providers.max_retries,
        )
    from services.knowledge.embedders import CohereEmbedder

    if settings.providers.cohere_api_key is None:
        raise ConfigurationError("EMBEDDING_PROVIDER=cohere needs COHERE_API_KEY.")
    return CohereEmbedder(
        settings.providers.cohere_api_key.get_secret_value(),
        model=model,
        base_url=settings.providers.cohere_base_url,
        batch_size=min(settings.embeddings.batch_size, 96),
        timeout=settings.providers.timeout,
    )


def build_reranker(settings: Settings) -> Reranker | None:
    if not settings.retrieval.reranker_enabled:
        return None
    if settings.providers.cohere_api_key is None:
        raise ConfigurationError("RERANKER_ENABLED=true needs COHERE_API_KEY.")
    from services.knowledge.reranker import CohereReranker

    return CohereReranker(
        settings.providers.cohere_api_key.get_secret_value(),
        model=settings.retrieval.reranker_model,
        timeout=settings.retrieval.reranker_timeout,
        base_url=settings.providers.cohere_base_url,
    )


def build_reader(settings: Settings) -> SentenceReader | None:
    """The offline answerer's trained reader, with the local embedder when `OFFLINE_READER` is
    on; an install without it (built before the reader existed) answers without it and says
    how to add it."""
    if settings.embeddings.provider != "local" or not settings.offline.reader:
        return None
    reader = _reader(settings.embeddings.models_dir)
    if not reader.available:
        logger.warning(
            "The offline reader is not installed in {}: answering without it. Run "
            "`almanac model install` to add it.",
            settings.embeddings.models_dir,
        )
        return None
    return reader.read


@functools.cache
def _reader(models_dir: Path) -> OnnxReader:
    """One reader per models folder in a process, loaded on its first read and shared by every
    container made in the process (loading it costs ~0.15 s of CPU; a server makes one
    container, a test run thousands). Its model file does not change under a running process:
    `almanac model install --force` replaces it for the processes started after."""
    from services.knowledge.embedders.reader import OnnxReader

    return OnnxReader(models_dir)


def load_lexicon(settings: Settings) -> Lexicon:
    """The knowledge base's lexicon (`LEXICON_FILE`, or the sample's while it is loaded); a
    file that cannot be read stops start-up with a message naming it."""
    from services.offline.lexicon import EMPTY as EMPTY_LEXICON
    from services.offline.lexicon import Lexicon, LexiconError

    path = settings.knowledge_base.effective_lexicon_file
    if path is None:
        return EMPTY_LEXICON
    try:
        return Lexicon.load(path)
    except LexiconError as exc:
        raise ConfigurationError(str(exc)) from None


def build_sentence_vectors(settings: Settings, embedder: Embedder) -> SentenceVectorFile | None:
    """The sentence vectors the offline model scores by meaning, shared on disk by the server,
    its planning processes and ingestion; None unless the local embedder is the one in use
    (offline answers score sentences by meaning only under it)."""
    if settings.embeddings.provider != "local":
        return None
    from services.offline.sentence_store import SentenceVectorFile

    return SentenceVectorFile(
        settings.storage.sentence_vectors_path, embedder.model, embedder.dimension
    )
