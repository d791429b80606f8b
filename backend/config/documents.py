"""Limits on the documents brought in, and on parsing them (OCR included)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from backend.config.base import SettingsGroup
from services.budgets import BUDGET


class DocumentSettings(SettingsGroup):
    """Limits on the documents an upload or `almanac ingest` brings in, and on parsing them."""

    model_config = ConfigDict(title="Documents and parsing")

    max_upload_bytes: int = Field(
        20 * 1024 * 1024,
        ge=1,
        description="Largest document accepted by POST /api/documents and PUT "
        "/api/documents/ID, in bytes. The multipart body may be 64 KiB larger (boundaries, "
        "form fields); it is counted while it streams in, and a larger Content-Length is "
        "refused with 413 at once.",
    )
    upload_job_bytes: int = Field(
        1024 * 1024,
        ge=0,
        description="Uploads larger than this are ingested as a background job: POST "
        "/api/documents answers 202 with a job to poll at GET /api/jobs/{id}.",
    )
    parse_cpu_seconds: int = Field(
        round(BUDGET.parse_cpu_s),
        ge=1,
        le=3600,
        description="CPU seconds one document's parse may take: an admin's upload, a chat "
        "attachment and each file of `almanac ingest` are parsed in a child process stopped "
        "past it (413 `input_too_costly`; in the CLI a failed file, the others ingested). A "
        "share page of a conversation import is read on a worker thread that stops past it "
        "(413).",
    )
    parse_memory_mb: int = Field(
        BUDGET.parse_memory_bytes // (1024 * 1024),
        ge=256,
        le=1024 * 1024,
        description="MiB of memory (address space) one document's parse may take, in the same "
        "child process as PARSE_CPU_SECONDS: an allocation past it fails and the parse is "
        "refused (413 `input_too_costly`; in the CLI a failed file, the others ingested). At "
        "most two parses run at once.",
    )
    ocr_dpi: int = Field(
        300,
        ge=72,
        le=600,
        description="Dots per inch a page is read at by OCR: a scanned PDF page is rasterised "
        "so, an image recording a lower resolution (a 150-dpi scan) is scaled up to it "
        "(Tesseract's English model reads about 300 dpi best; more costs CPU). A page too "
        "large for the image pixel budget at this resolution is read at less.",
    )
    ocr_workers: int = Field(
        2,
        ge=1,
        le=64,
        description="Pages of one scan OCR reads at once, one single-threaded `tesseract` "
        "each: one per core.",
    )
    ocr_min_confidence: float = Field(
        30.0,
        ge=0,
        le=100,
        description="Lines OCR is less sure of than this (Tesseract's confidence, 0-100, "
        "averaged over the line's words) are left out of a scan's text: speckles, the edges "
        "of pictures, smudged lines.",
    )
    ocr_cpu_seconds: int = Field(
        round(BUDGET.ocr_cpu_s),
        ge=1,
        le=86_400,
        description="CPU seconds OCR may spend reading one document's scanned pages (an "
        "admin's upload, a file of `almanac ingest` or of a synced source), Tesseract's runs "
        "included, checked as each page starts: past it the document is refused (413 "
        "`input_too_costly` naming this setting; in the CLI a failed file, the others "
        "ingested). The binding limit on a long scan: a typeset page scanned at 150 dpi "
        "costs 2.1-2.4 CPU s at OCR_DPI 300 (bench/bench_ocr.py: a 300-page scan took 638 "
        "CPU s), so the default reads a 300-page scan with 2.8 times that to spare. Its "
        "pages are read OCR_WORKERS at a time, the memory they take the same however many "
        "pages (PARSE_MEMORY_MB). Chat "
        "attachments have their own, smaller budget (CHAT_FILE_OCR_MAX_PAGES).",
    )
    ocr_max_pages: int = Field(
        BUDGET.max_ocr_pages,
        ge=1,
        le=BUDGET.max_pdf_pages,
        description="A safety cap on the pages without a text layer that OCR reads in one "
        "document (a scanned PDF, a multi-page TIFF), checked before any page is read; a "
        "document with more is refused (413 `input_too_costly`). The binding limit is "
        "OCR_CPU_SECONDS; the parse's time budget (PARSE_CPU_SECONDS) grows by its own "
        "amount for each page read.",
    )
    ocr_language: str = Field(
        "eng",
        pattern=r"^[a-z_]{3,}(\+[a-z_]{3,})*$",
        description="Tesseract's language data for OCR: `eng` (Debian's tesseract-ocr "
        "includes it), or several joined by `+` (`eng+deu` once tesseract-ocr-deu is "
        "installed).",
    )
    max_workbook_cells: int = Field(
        BUDGET.max_workbook_cells,
        ge=1,
        le=100_000_000,
        description="Cells of one workbook (.xlsx, .xlsm, .ods; all its sheets together): those "
        "holding a value, and those of the tables its sheets become (rows x columns, the "
        "blank cells between values included; blank rows and columns around them, a far "
        "cell's claimed extent and repeats of blank cells cost nothing). Past it, an upload, "
        "an attachment or a table load is refused (413 `input_too_costly`). A workbook's "
        "description is parsed within PARSE_CPU_SECONDS, and openpyxl reads 50,000 to "
        "100,000 cells a CPU-second: raise both together.",
    )
    archive_max_members: int = Field(
        BUDGET.max_archive_members,
        ge=1,
        le=1_000_000,
        description="Members of one archive (.zip, .epub; a nested archive's counted with its "
        "parent's), messages of one mailbox (.mbox) and parts of one e-mail (.eml): each is "
        "read by its own loader. Past it, the file is refused (413 `input_too_costly`).",
    )
    archive_max_unpacked_mb: int = Field(
        BUDGET.max_archive_unpacked // (1024 * 1024),
        ge=1,
        le=4096,
        description="Megabytes all members of one archive (.zip, .epub; nested ones included) "
        "may unpack to together, read from its directory before anything is inflated and "
        "counted again while inflating. Past it, 413 `input_too_costly`.",
    )
    archive_max_ratio: int = Field(
        BUDGET.max_archive_ratio,
        ge=1,
        le=10_000,
        description="Unpacked bytes per packed byte of one archive member (text packs 3 to 10 "
        "times, a zip bomb's members thousands of times; a member of up to 1 MiB always "
        "passes). Past it, the archive is refused (413 `input_too_costly`).",
    )
    max_document_chunks: int = Field(
        5000,
        ge=1,
        description="Most retrieval chunks one document may have; a bigger document is "
        "refused (413) before anything is embedded.",
    )
    future_date_tolerance_days: int = Field(
        1,
        ge=0,
        le=366,
        description="Documents dated (updated, date, effective, ...) later than today plus "
        "this many days are refused (422).",
    )
