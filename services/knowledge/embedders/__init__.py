"""Embedding adapters (`use_cases.ports.Embedder`): local MiniLM (default), OpenAI, Cohere."""

from services.embedders.cohere_embedder import CohereEmbedder
from services.embedders.minilm import MiniLMEmbedder
from services.embedders.minilm_build import install_minilm
from services.embedders.openai_embedder import OpenAIEmbedder

__all__ = ["CohereEmbedder", "MiniLMEmbedder", "OpenAIEmbedder", "install_minilm"]
