"""Conversations: summaries and search, project drafts, imports of share links."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from backend.config.base import SettingsGroup


class ConversationSearchSettings(SettingsGroup):
    """Summaries of conversations and the search across a user's chats."""

    model_config = ConfigDict(title="Conversation summaries and search")

    summary_chunk_tokens: int = Field(
        3000,
        ge=200,
        le=200_000,
        description="Estimated tokens (characters / 4) per chunk when a model summarises a "
        "conversation: longer ones are summarised chunk by chunk, then the partial summaries "
        "together (map-reduce).",
    )
    summary_max_chars: int = Field(
        1200,
        ge=100,
        le=20_000,
        description="Longest generated conversation summary, in characters.",
    )
    summary_timeout: float = Field(
        120.0, gt=0, description="Seconds one summary (every map and reduce call) may take."
    )
    embed_batch: int = Field(
        64,
        ge=0,
        le=10_000,
        description="Chat search: items (titles, summaries, messages) embedded at most per "
        "query for those without a vector yet; the rest are found by BM25 until a later "
        "query catches them up (0: lexical chat search only).",
        validation_alias="chat_search_embed_batch",
    )
    min_similarity: float = Field(
        0.25,
        ge=-1,
        le=1,
        description="Chat search: the least cosine similarity for a vector match to count.",
        validation_alias="chat_search_min_similarity",
    )


class ProjectDraftSettings(SettingsGroup):
    """Project drafts made from a conversation (docs/conversation-drafts.md)."""

    model_config = ConfigDict(title="Conversation project drafts")

    max_conversation_chars: int = Field(
        60_000,
        ge=1_000,
        le=1_000_000,
        description="Characters of a conversation a project draft is made from: its first "
        "message, then as many of its latest as fit (docs/conversation-drafts.md).",
        validation_alias="project_draft_max_conversation_chars",
    )
    max_versions: int = Field(
        500,
        ge=1,
        le=100_000,
        description="Versions a conversation's project draft may have; a change past it is "
        "refused (409).",
        validation_alias="project_draft_max_versions",
    )
    mem0_score_threshold: float = Field(
        0.38,
        ge=0,
        le=1,
        description="Semantic memory (the conversation backend's Mem0): the least score a "
        "recalled memory needs to be given to project drafting as context. No memory service "
        "ships with Almanac (a port only): this applies once one is wired in.",
    )


class ConversationImportSettings(SettingsGroup):
    """Which share links POST /api/conversations/import fetches, and how."""

    model_config = ConfigDict(title="Conversation import")

    allowed_hosts: str = Field(
        "chatgpt.com,chat.openai.com,claude.ai,grok.com,x.com",
        description="Comma-separated hosts whose share links POST /api/conversations/import "
        "fetches (each host and its subdomains), as `host` (the scheme's default port only) "
        "or `host:port`; a redirect to any other host or port is refused.",
        validation_alias="import_allowed_hosts",
    )
    allow_http: bool = Field(
        False,
        description="Also fetch plain http:// share links (https only by default).",
        validation_alias="import_allow_http",
    )
    allow_private_hosts: bool = Field(
        False,
        description="Fetch share links whose host has a private, loopback or link-local "
        "address (a local test server); refused by default.",
        validation_alias="import_allow_private_hosts",
    )
    max_page_bytes: int = Field(
        5 * 1024 * 1024,
        ge=1024,
        description="Largest share page fetched, in bytes (413).",
        validation_alias="import_max_page_bytes",
    )
    timeout_s: float = Field(
        15.0,
        gt=0,
        le=120,
        description="Seconds to fetch a share page, from connecting to its last byte, "
        "redirects and slow headers included (504 after).",
        validation_alias="import_timeout_s",
    )

    @property
    def allowed_host_list(self) -> tuple[str, ...]:
        return tuple(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())
