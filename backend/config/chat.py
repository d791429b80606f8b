"""Chat and advice turns, the web app's texts, and files attached to chats."""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field

from backend.config.base import SettingsGroup
from services.budgets import BUDGET


class ChatSettings(SettingsGroup):
    """Chat and advice turns: prompts, history and message limits, streaming."""

    model_config = ConfigDict(title="Chat and advice")

    system_prompt: str | None = Field(
        None,
        description="Replaces the built-in defaults of the chat and advice system prompts. A "
        "prompt version an admin activated (`/api/llm-prompts/{type}`, `almanac prompts`) takes "
        "precedence.",
    )
    history_window: int = Field(
        20, ge=0, le=200, description="Earlier messages of a chat sent to the model."
    )
    max_message_chars: int = Field(
        8000,
        ge=1,
        le=1_000_000,
        description="Longest chat message (POST /chat, /chat/stream, the last user message of "
        "POST /api/chat, each user and assistant message of POST /v1/chat/completions, "
        "`almanac ask`) and advice question (the last message of POST /advice, "
        "/advice-non-streaming, `almanac advise`), in characters after stripping.",
    )
    max_conversation_messages: int = Field(
        500,
        ge=1,
        description="Most messages one POST /api/chat, /v1/chat/completions or advice request "
        "may carry (they send the whole conversation).",
    )
    max_conversation_chars: int = Field(
        400_000,
        ge=1,
        description="Most text characters, summed over the messages, one POST /api/chat, "
        "/v1/chat/completions or advice request may carry.",
    )
    stream_word_delay_ms: int = Field(
        12,
        ge=0,
        le=200,
        description="Milliseconds between the words of a text delta that holds several (as the "
        "offline model sends a sentence at once), in the streams of chat and advice, so an answer "
        "is seen being written; at most 2 s per answer, and a provider streaming a word at a time "
        "is not slowed. 0 sends text as it comes.",
    )


class WebAppSettings(SettingsGroup):
    """Texts of the web app."""

    model_config = ConfigDict(title="Web app")

    ui_chat_placeholder: str = Field(
        "Ask a question about your documents…",
        max_length=200,
        description="The web app's question box before anything is typed.",
    )
    ui_advice_placeholder: str = Field(
        "Describe the decision you need advice on…",
        max_length=200,
        description="The web app's advice box before anything is typed.",
    )


class ChatFileSettings(SettingsGroup):
    """Files attached to chats: limits, where their bytes are kept, which models read images."""

    model_config = ConfigDict(title="Files attached to chats")

    max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1,
        description="Largest file accepted by POST /api/conversations/ID/files (a file "
        "attached to a chat), in bytes. The multipart body may be 64 KiB larger; a larger "
        "Content-Length is refused with 413 before the body is read.",
        validation_alias="chat_file_max_bytes",
    )
    parse_memory_mb: int = Field(
        320,
        ge=128,
        le=1024 * 1024,
        description="MiB of memory (address space) one chat attachment's parse may take, in "
        "its child process: lower than an admin's upload (PARSE_MEMORY_MB), since any user "
        "may attach files; the child with the loaders maps ~90 MiB, a 10 MB attachment of "
        "Markdown or HTML reads within 256, and a scanned page read by OCR (numpy and the "
        "page's pixels at 300 dpi) peaks at ~240 MiB for a letter or A4 page, ~275 for A3. "
        "Past it, 413 `input_too_costly`.",
        validation_alias="chat_file_parse_memory_mb",
    )
    user_concurrency: int = Field(
        1,
        ge=1,
        le=64,
        description="Files of one user attached (parsed and embedded) at once; the user's "
        "others wait their turn, in order, while other users' go ahead. On PostgreSQL counted "
        "over every replica (a ledger in the database); on SQLite in the one process.",
        validation_alias="chat_file_user_concurrency",
    )
    user_in_flight_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1,
        description="Bytes of one user's attached files in flight (being read or waiting their "
        "turn); one more past it is refused with 429 `too_much_in_flight` and Retry-After. A "
        "user with nothing in flight may always send one file (up to CHAT_FILE_MAX_BYTES). "
        "On PostgreSQL counted over every replica; on SQLite in the one process.",
        validation_alias="chat_file_user_in_flight_bytes",
    )
    user_chunks_per_minute: int = Field(
        500,
        ge=0,
        le=1_000_000,
        description="Chunks one user's attached files may embed per minute (embedding is what "
        "an attachment costs most: ~10 ms of CPU a chunk with the local embedder on a quiet "
        "core, several times that on a busy one): a token bucket per user, this many at once, "
        "refilled at this rate. A file whose chunks the bucket does not hold now is refused "
        "with 429 and Retry-After; one of more chunks than this is refused with 413. Counted "
        "in the server process on SQLite, shared by every replica on PostgreSQL or with "
        "REDIS_URL. 0 disables.",
        validation_alias="chat_file_user_chunks_per_minute",
    )
    ocr_max_pages: int = Field(
        5,
        ge=1,
        le=BUDGET.max_pdf_pages,
        description="Pages of an attached file that OCR reads (a scanned PDF's pages without a "
        "text layer, a TIFF's frames), one page at a time, within PARSE_CPU_SECONDS of CPU "
        "a page (this many times it for the whole file, Tesseract's runs included): a few "
        "CPU seconds a page. A file with more pages, or whose OCR takes more CPU, is refused "
        "(413 `input_too_costly`, naming this setting): a large scan belongs in the "
        "knowledge base (OCR_CPU_SECONDS).",
        validation_alias="chat_file_ocr_max_pages",
    )
    dir: Path | None = Field(
        None,
        description="Where the bytes of files attached to chats are kept (one directory per "
        "chat). Unset: DATA_DIR/chat_files. Replicas sharing a PostgreSQL database must share "
        "this directory, or keep the files in S3 (CHAT_FILES_S3_BUCKET).",
        validation_alias="chat_files_dir",
    )
    s3_bucket: str | None = Field(
        None,
        min_length=3,
        max_length=63,
        description="Keep the bytes of files attached to chats in this S3 bucket instead of "
        "CHAT_FILES_DIR (AWS S3 or any S3-compatible store; see S3_ENDPOINT_URL). The bucket "
        "must exist; the start stops if it cannot be reached. Credentials come from the AWS "
        "SDK's usual chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, an "
        "instance role). Needs the `s3` extra (`pip install 'almanac[s3]'`).",
        validation_alias="chat_files_s3_bucket",
    )
    s3_prefix: str = Field(
        "chat_files/",
        max_length=512,
        description="The key prefix of attached files in CHAT_FILES_S3_BUCKET: each file is "
        "the object PREFIX + chat id + '/' + file id.",
        validation_alias="chat_files_s3_prefix",
    )
    s3_endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="The endpoint of an S3-compatible store (MinIO, Ceph, Cloudflare R2 ...), "
        "e.g. http://127.0.0.1:9000. Unset: AWS S3 itself.",
    )
    s3_region: str | None = Field(
        None,
        description="The S3 region (e.g. eu-west-1). Unset: the AWS SDK's own "
        "(AWS_DEFAULT_REGION, the profile).",
    )
    vision_models: str = Field(
        "openai:gpt-4o,openai:gpt-4o-mini,openai:gpt-4-turbo,openai:gpt-4.1,openai:gpt-4.1-mini",
        description="Comma-separated models that read images (bare gpt-..., claude-..., "
        "gemini-... names get their provider). An image attached to a chat whose model is "
        "one of them is described by it, and the description is what the chat's search finds; "
        "with any other model (the offline one included) it is stored undescribed. Empty: no "
        "image is described.",
    )
    image_description_timeout: float = Field(
        60.0, gt=0, description="Seconds a model may take to describe an attached image."
    )

    @property
    def vision_model_list(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.vision_models.split(",") if m.strip())
