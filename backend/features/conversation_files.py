"""Files attached to a chat and the chat's scoped search (`use_cases/conversations/files.py`);
an attached image is described by the chat's model when it reads images (VISION_MODELS).

Built before chat: a chat turn's retriever (`scope`) and chat deletion (`forget_chat`) come
from here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from backend.config import ChatFileSettings, DocumentSettings, RetrievalSettings
from backend.features import INTERNAL
from backend.features.adapters import Wiring, budgeted_loader, ocr_options
from backend.features.prompts import PromptUseCases
from services.chat.models import with_provider
from services.clock import SystemClock
from services.conversations.file_search import ChatFileIndex, ScopedRetriever
from services.conversations.image_reader import PillowImageReader
from services.knowledge.loaders import OcrOptions
from services.token_buckets import MemoryTokenBuckets
from use_cases.chat.chat_turns import ScopeRetriever
from use_cases.conversations.chunk_budget import ChunkBudget
from use_cases.conversations.files import (
    AttachFile,
    ForgetChatFiles,
    GetFile,
    ListFiles,
    ReadFile,
    RemoveFile,
)
from use_cases.conversations.image_description import DescribeImage
from use_cases.conversations.upload_limits import (
    SharedUploadLimits,
    UploadLedger,
    UploadLimits,
    UserUploadLimits,
)


@dataclass(frozen=True)
class ConversationFileUseCases:
    attach_file: AttachFile
    list_files: ListFiles
    get_file: GetFile
    read_file: ReadFile
    remove_file: RemoveFile
    forget_chat_files: ForgetChatFiles = field(metadata=INTERNAL)
    """What chat deletion calls with the chat's id."""
    scope: ScopeRetriever = field(metadata=INTERNAL)
    """A chat turn's retriever: the knowledge base's plus the chat's files."""


def build(
    w: Wiring,
    prompts: PromptUseCases,
    *,
    settings: ChatFileSettings,
    documents: DocumentSettings,
    retrieval: RetrievalSettings,
) -> ConversationFileUseCases:
    a = w.adapters
    describe = DescribeImage(
        a.history,
        prompts.chat_models,
        frozenset(with_provider(m) for m in settings.vision_model_list),
        timeout_s=settings.image_description_timeout,
    )
    store, storage = a.chat_files, a.chat_file_bytes
    index = ChatFileIndex(store, a.embedder, rrf_k=retrieval.rrf_k)
    return ConversationFileUseCases(
        attach_file=AttachFile(
            a.history,
            store,
            storage,
            # A user's attachment is parsed in a child process under a CPU and a memory budget
            # (a fan-out PDF once cost ~50 s of the server's CPU, a PDF's XMP stream 4 GB),
            # its memory lower than an admin upload's, and a scan's pages read by OCR few and
            # one at a time: any user may attach a file.
            budgeted_loader(
                documents,
                memory_mb=settings.parse_memory_mb,
                memory_setting="CHAT_FILE_PARSE_MEMORY_MB",
                ocr=attachment_ocr(settings, documents),
            ),
            PillowImageReader(),
            a.chunker,
            a.embedder,
            w.clock,
            max_bytes=settings.max_bytes,
            max_chunks=documents.max_document_chunks,
            describe=describe,
            # One user's attachments are read one at a time (a 3 MB file cost 257 CPU-s to
            # embed), within a cap on the bytes of theirs in flight.
            # Counted across the replicas on PostgreSQL (a ledger they share).
            limits=upload_limits(settings, a.upload_ledger),
            # ... and what they embed is charged to a per-user budget of chunks a minute
            # (a 6.7 KB workbook once made ~5,000 chunks, 43 CPU-s), in the rate limit's
            # buckets: Redis or PostgreSQL when every replica shares them, else in memory.
            budget=ChunkBudget(
                a.shared_buckets or MemoryTokenBuckets(SystemClock()),
                per_minute=settings.user_chunks_per_minute,
            ),
        ),
        list_files=ListFiles(a.history, store),
        get_file=GetFile(a.history, store),
        read_file=ReadFile(a.history, store, storage),
        remove_file=RemoveFile(a.history, store, storage),
        forget_chat_files=ForgetChatFiles(store, storage),
        scope=lambda base, chat_id: ScopedRetriever(base, index, chat_id),
    )


def upload_limits(settings: ChatFileSettings, ledger: UploadLedger | None) -> UploadLimits:
    """A user's attachments in flight: in the ledger every replica shares, or in-process."""
    concurrent = settings.user_concurrency
    max_bytes = settings.user_in_flight_bytes
    if ledger is not None:
        return SharedUploadLimits(ledger, concurrent=concurrent, max_bytes=max_bytes)
    return UserUploadLimits(concurrent=concurrent, max_bytes=max_bytes)


def attachment_ocr(settings: ChatFileSettings, documents: DocumentSettings) -> OcrOptions:
    """How an attachment's scanned pages are read: the OCR_* options, but at most
    CHAT_FILE_OCR_MAX_PAGES pages, one at a time (one core, one page's pixels held: within
    CHAT_FILE_PARSE_MEMORY_MB), within PARSE_CPU_SECONDS of CPU a page (the knowledge base's
    OCR_CPU_SECONDS does not apply), and a refusal that says what to do instead."""
    return dataclasses.replace(
        ocr_options(documents),
        max_pages=settings.ocr_max_pages,
        cpu_s=settings.ocr_max_pages * documents.parse_cpu_seconds,
        workers=1,
        max_pages_setting="CHAT_FILE_OCR_MAX_PAGES",
        cpu_setting="CHAT_FILE_OCR_MAX_PAGES x PARSE_CPU_SECONDS",
        over_pages_advice=(
            "A file attached to a chat is read by OCR a few pages at most: attach only the "
            "pages you need, or have the whole document added to the knowledge base "
            f"(where OCR reads scans of hundreds of pages, within {documents.ocr_cpu_seconds:,} "
            "s of CPU: OCR_CPU_SECONDS)."
        ),
    )
