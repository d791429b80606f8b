"""The knowledge base: sample data and lexicon, embeddings, chunking, retrieval, tables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from backend.config.base import PROJECT_ROOT, SettingsGroup


def _default_models_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "almanac" / "models"


class KnowledgeBaseSettings(SettingsGroup):
    """The bundled sample knowledge base and tables, and your knowledge base's lexicon."""

    model_config = ConfigDict(title="Sample data and lexicon")

    load_sample_data: bool = Field(
        True, description="Ingest the bundled sample knowledge base when the knowledge DB is empty."
    )
    sample_data_dir: Path = Field(
        PROJECT_ROOT / "sample_data" / "knowledge_base",
        description="Bundled sample knowledge base, ingested on first start when enabled.",
    )
    sample_tables_dir: Path = Field(
        PROJECT_ROOT / "sample_data" / "tables",
        description="Bundled sample tables (CSV), loaded on first start when enabled.",
    )
    lexicon_file: Path | None = Field(
        None,
        description="Your knowledge base's lexicon (JSON): the words its people use for the "
        "words its documents and tables use (synonyms, acronyms, phrases, column hints; see "
        "docs/configuration.md#lexicon). Unset: the bundled sample's lexicon while "
        "LOAD_SAMPLE_DATA is on, else none (English alone).",
    )
    sample_lexicon_file: Path = Field(
        PROJECT_ROOT / "sample_data" / "lexicon.json",
        description="The bundled sample's lexicon, used while LOAD_SAMPLE_DATA is on and "
        "LEXICON_FILE is unset.",
    )

    @property
    def effective_lexicon_file(self) -> Path | None:
        """`LEXICON_FILE`, else the sample's while the sample is loaded (if it exists)."""
        if self.lexicon_file is not None:
            return self.lexicon_file
        sample = self.sample_lexicon_file
        return sample if self.load_sample_data and sample.is_file() else None


class EmbeddingSettings(SettingsGroup):
    """Which model turns text into vectors."""

    model_config = ConfigDict(title="Embeddings")

    provider: Literal["local", "openai", "cohere"] = Field(
        "local",
        description="`local` = bundled all-MiniLM-L6-v2 (int8 ONNX, offline); "
        "`openai` or `cohere` need an API key.",
        validation_alias="embedding_provider",
    )
    model: str | None = Field(
        None,
        description="Provider model name. Defaults: all-MiniLM-L6-v2 (local), "
        "text-embedding-3-small (openai), embed-english-v3.0 (cohere).",
        validation_alias="embedding_model",
    )
    batch_size: int = Field(
        64,
        ge=1,
        le=2048,
        description="Texts per embedding call to OpenAI or Cohere, and (x16) chunks an "
        "ingest embeds and writes at a time. The local model embeds each text on its own.",
        validation_alias="embedding_batch_size",
    )
    models_dir: Path = Field(
        default_factory=_default_models_dir,
        description="Where `almanac model install` puts the local embedding model.",
    )

    @property
    def effective_model(self) -> str:
        defaults = {
            "local": "all-MiniLM-L6-v2",
            "openai": "text-embedding-3-small",
            "cohere": "embed-english-v3.0",
        }
        return self.model or defaults[self.provider]


class ChunkingSettings(SettingsGroup):
    """How documents are cut into retrieval chunks."""

    model_config = ConfigDict(title="Chunking")

    tokens: int = Field(
        160,
        ge=32,
        le=1024,
        description="Target size of a retrieval chunk, in tokens.",
        validation_alias="chunk_tokens",
    )
    overlap: int = Field(
        32,
        ge=0,
        le=512,
        description="Tokens shared by consecutive chunks.",
        validation_alias="chunk_overlap",
    )


class RetrievalSettings(SettingsGroup):
    """Hybrid search: candidates, fusion and the optional reranker."""

    model_config = ConfigDict(title="Retrieval")

    vector_search_limit: int = Field(
        50, ge=1, le=1000, description="Candidates from vector search."
    )
    bm25_search_limit: int = Field(50, ge=1, le=1000, description="Candidates from BM25 (FTS5).")
    bm25_resident_min_sections: int = Field(
        5_000,
        ge=0,
        description="SQLite: from this many sections on, BM25 is scored from a resident copy of "
        "the full-text index (same scores as FTS5; hybrid p50 4.6 instead of 16.4 ms at 100k "
        "chunks; at 100k ~250 MB of memory and ~8 s to build, on a background thread). "
        "0: always.",
    )
    final_results_limit: int = Field(5, ge=1, le=100, description="Hits returned by default.")
    rrf_k: int | None = Field(
        None,
        ge=1,
        description="Unset: fuse BM25 and vector hits by a convex combination of min-max scaled "
        "scores (SciFact train nDCG@10 0.741). Set: Reciprocal Rank Fusion with this constant k "
        "instead (k=60: 0.723).",
    )
    reranker_enabled: bool = Field(False, description="Re-order fused hits with Cohere rerank.")
    reranker_model: str = Field("rerank-v3.5", description="Cohere rerank model.")
    reranker_top_n: int = Field(
        20, ge=1, le=1000, description="Fused candidates sent to the reranker."
    )
    reranker_timeout: float = Field(
        5.0, gt=0, description="Seconds to wait for the reranker before keeping the fused order."
    )

    @field_validator("rrf_k", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value


class TableSettings(SettingsGroup):
    """The read-only SQL lookups over the structured tables."""

    model_config = ConfigDict(title="Table lookups")

    sql_timeout: float = Field(1.0, gt=0, le=30, description="Seconds one SQL lookup may run.")
    sql_max_rows: int = Field(200, ge=1, le=10000, description="Rows one SQL lookup returns.")
