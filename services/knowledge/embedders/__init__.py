"""Embedding adapters (`use_cases.knowledge.ports.Embedder`): local MiniLM (default),
OpenAI, Cohere."""

from services.knowledge.embedders.cohere_embedder import CohereEmbedder
from services.knowledge.embedders.minilm import MiniLMEmbedder
from services.knowledge.embedders.minilm_build import install_minilm
from services.knowledge.embedders.openai_embedder import OpenAIEmbedder

__all__ = ["CohereEmbedder", "MiniLMEmbedder", "OpenAIEmbedder", "install_minilm"]
