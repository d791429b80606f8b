"""PDF loader: sections by bookmark (or heading) and page; PDFium's text layer, and OCR for
the pages that have none."""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pypdfium2 as pdfium
from pypdf import PasswordType, PdfReader

from services.budgets import BUDGET, InputBudget, PdfBudget
from services.knowledge.fts_query import STOPWORDS
from services.knowledge.loaders.common import (
    collector_paused,
    ensure_not_empty,
    extension,
    humanise_stem,
    parse_pdf_date,
    tidy_text,
)
from services.knowledge.loaders.image import EXTRACTION_KEY
from services.knowledge.loaders.ocr import (
    OcrLine,
    OcrOptions,
    read_pages,
    require_tesseract,
    tesseract_available,
)
from services.knowledge.loaders.pdf_content import charge_metadata, charge_pages
from services.knowledge.loaders.pdf_text import (
    Line,
    PageText,
    body_size,
    headings,
    joined_headings,
    margin_pieces,
    page_text,
    read_page,
    scan_headings,
    steady_sizes,
    title_apart,
    undotted,
    without_running_lines,
)
from services.knowledge.spelling import english_words
from use_cases.knowledge.domain import ParsedDocument, ParsedSection
from use_cases.shared.errors import InputTooCostly, InvalidDocument
from use_cases.shared.sentences import sentence_breaks

PDF_EXTENSIONS = (".pdf",)

MAX_TITLE_CHARS = 100
_USELESS_TITLES = frozenset(("untitled", "untitled document", "document", "microsoft word"))
_WORD_PREFIX = re.compile(r"^microsoft (?:word|powerpoint|excel) - ", re.IGNORECASE)
_OFFICE_SUFFIX = re.compile(r"\.(?:docx?|pptx?|xlsx?|odt|rtf|pdf)$", re.IGNORECASE)
_PDF_HEADER_WINDOW = 1024


class PdfLoader:
    """Loads `.pdf` files: the text with PDFium (`pdf_text`), the rest with pypdf.

    * Sections: one per page with text, in page order, or a few per page when bookmarks
      start on it. The heading path is `(*outline_path, "Page <label>")`: the bookmark
      (outline) path in force when the PDF has an outline, followed by the page's printed
      label ("Page iv", "Page 12"; the 1-based page number when the PDF defines no labels).
      Where the title of a bookmark starting on the page is a line of it ("3.1
      Identification"), a section under that bookmark starts there and the lines above it
      stay under the path before (`split_at_titles`); a page where no such title is found
      gets the first bookmark starting on it; other pages inherit the last one before. A
      numbered heading line below a bookmark's own number ("2.7.3 Make it portable" under
      "2.7 General style") heads the lines after it too, over page breaks. A PDF without
      bookmarks gets its headings (lines set larger than the body, or in bold) as its
      outline (`pdf_text.headings`).
    * Text: PDFium's text layer, which keeps words apart where the typesetter placed them
      apart without a space character, and reads columns in order; ligatures ("ﬁ") are
      letters. Running headers, footers and page numbers go
      (`pdf_text.without_running_lines`); footnotes follow the page's text, after a blank
      line (`pdf_text.page_text`). A column of marginal notes ("New feature 1995/12/01" in
      the right margin of many pages, as LaTeX documentation prints them) goes too. Words
      the typesetter hyphenated at a line's end are whole again (`join_broken_words`), and
      a sentence a page break cut in two is whole on the page it starts on
      (`whole_sentences`). A definition list printed as "term Description"
      lines reads "term — Description", as the HTML loader writes one (`labelled_terms`).
    * OCR: a page with an image and almost no text layer (`MIN_TEXT_CHARS`: a scanned page)
      is rasterised by PDFium at the OCR dpi (less where the page is so large that its
      pixels would pass `max_image_pixels`) and read by Tesseract (services/knowledge/
      loaders/ocr.py); its lines then go through the same steps as a text page's, but
      that a heading OCR reads over two lines is one (`pdf_text.joined_headings`) and,
      in a scan without bookmarks, the first page's largest type is the document's
      title, not the root of every section's path (`pdf_text.title_apart`), and its
      section numbers are written as most of its others are (`pdf_text.scan_headings`). The
      document is marked `extraction: ocr` in its metadata, with `ocr_pages`. More such
      pages than `OcrOptions.max_pages` is `InputTooCostly` (413). Without Tesseract, a PDF with
      no text on any page is `UnsupportedDocument` (415) naming the package; one with text
      on some pages is read without its scanned ones.
    * Title: the `/Title` info entry (minus "Microsoft Word - " style noise), else the first
      bookmark's (or heading's) top-level title, else the first line of text if it is
      short, else the file name made readable.
    * `updated_at`: `/ModDate`, else `/CreationDate`. `/Author`, `/Subject`, `/Keywords` and
      the page count go to metadata.
    * Errors (`InvalidDocument`): not a PDF, corrupt or truncated beyond repair,
      password-protected (a PDF encrypted with an empty user password - "owner password
      only", as many permission-restricted PDFs are - opens like any viewer opens it), and
      no text on any page, OCR's included.
    * Budget (`InputTooCostly`, 413; services/budgets.py `PdfBudget`): more pages than
      `max_pdf_pages`, or more than `max_pdf_content` bytes of decompressed page content,
      a stream counted each time a page draws it, its inline images and the Type 3 glyphs
      of the page's fonts included (`pdf_content.charge_pages`), and the document's XMP
      metadata stream with it (`pdf_content.charge_metadata`), measured before PDFium
      opens the document.
    """

    extensions = PDF_EXTENSIONS
    media_type = "application/pdf"
    reads_scans = True

    def __init__(self, budget: InputBudget = BUDGET, ocr: OcrOptions | None = None) -> None:
        self._budget = budget
        self._ocr = ocr or OcrOptions()

    def supports(self, name: str) -> bool:
        return extension(name) in PDF_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        ensure_not_empty(name, data)
        if b"%PDF-" not in data[:_PDF_HEADER_WINDOW]:
            raise InvalidDocument(f"{name} is not a PDF file")

    def load(self, name: str, data: bytes) -> ParsedDocument:
        self.check(name, data)
        with collector_paused():  # a page's lines and pypdf's objects live until the end
            return self._load(name, data)

    def _load(self, name: str, data: bytes) -> ParsedDocument:
        reader, page_count = _open(name, data)
        # The budget is charged before PDFium opens the document: a fan-out PDF (pages drawing
        # one large stream) is refused after one inflate, not after ~50 s of parsing, and an
        # XMP stream inflating to gigabytes before PDFium parses it as XML.
        budget = PdfBudget(name, self._budget)
        budget.check_pages(page_count)
        charge_metadata(reader, budget)
        charge_pages(reader, page_count, budget)

        labels = _page_labels(reader, page_count)
        pages, scans = _read_pages(name, data, page_count)
        failures = pages.count(None)
        scans = self._read_scans(name, data, pages, scans)
        pages = without_running_lines(steady_sizes(pages, scans))
        body = body_size(pages)
        pages = joined_headings(pages, scans, body)
        outline = _outline_pages(reader, page_count)
        found = headings(pages, body) if not outline else []
        title, found = title_apart(scan_headings(found)) if scans else (None, found)
        outline = outline or _heading_pages(found, page_count)
        parts = [None if page is None else page_text(page, body) for page in pages]
        texts = _without_margin_notes(
            [
                None if part is None or page is None else (part[0], page.right)
                for part, page in zip(parts, pages, strict=True)
            ]
        )
        known = _known_words(texts)
        sections: list[ParsedSection] = []
        carried: OutlinePath = ()  # the path the last page's text ended under
        for index, raw in enumerate(whole_sentences(texts, labels)):
            page_part = parts[index]
            notes = page_part[1] if page_part is not None else ""
            text = (
                tidy_text(f"{labelled_terms(join_broken_words(raw, known))}\n\n{notes}")
                if raw is not None
                else ""
            )
            before, started = outline[index]
            for path, part in split_at_titles(text, before, started):
                if path == before and carried[: len(path)] == path:
                    path = carried  # "2.7.1 Loading other files" goes on over the page
                carried = path
                sections.append(
                    ParsedSection(heading_path=(*path, f"Page {labels[index]}"), text=part)
                )
        if not sections:
            if failures == page_count:
                raise InvalidDocument(
                    f"{name} could not be read as a PDF; it may be corrupt or truncated"
                )
            raise InvalidDocument(
                f"{name} has no extractable text (no text layer, and no scanned page OCR "
                "could read)"
            )

        document = _document(reader, outline, sections, page_count, name, self.media_type, title)
        if scans:
            document.metadata.update({EXTRACTION_KEY: "ocr", "ocr_pages": str(len(scans))})
        return document

    def _read_scans(
        self, name: str, data: bytes, pages: list[PageText | None], scans: list[int]
    ) -> list[int]:
        """Put OCR's text in the place of each scanned page's (the class docstring says
        when); the pages read so."""
        if not scans:
            return []
        if not tesseract_available():
            if all(page is None or not page.lines for page in pages):
                require_tesseract(name)
            return []
        if len(scans) > self._ocr.max_pages:
            raise InputTooCostly(self._ocr.too_many_pages(name, len(scans)))
        document = pdfium.PdfDocument(data)
        try:
            sizes = [_page_size(document, index) for index in scans]
            scales = [_ocr_scale(size, self._ocr, self._budget) for size in sizes]
            read = read_pages(name, _rendered(document, scans, scales), self._ocr, len(scans))
        finally:
            document.close()
        for index, lines, size, scale in zip(scans, read, sizes, scales, strict=True):
            pages[index] = _ocr_page_text(lines, size, scale)
        return scans


def _open(name: str, data: bytes) -> tuple[PdfReader, int]:
    """The PDF's reader (decrypted when it opens with an empty password) and its page count."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        _unlock(name, reader)
        page_count = len(reader.pages)
    except InvalidDocument:
        raise
    except Exception:  # pypdf raises many types on malformed input
        raise InvalidDocument(
            f"{name} could not be read as a PDF; it may be corrupt or truncated"
        ) from None
    if page_count == 0:
        raise InvalidDocument(f"{name} has no pages")
    return reader, page_count


def _document(
    reader: PdfReader,
    outline: list[PageOutline],
    sections: list[ParsedSection],
    page_count: int,
    name: str,
    media_type: str,
    scan_title: str | None = None,
) -> ParsedDocument:
    """The parsed document: `sections` with the title, dates and metadata the PDF records
    (`scan_title`: a scan's, `pdf_text.title_apart`)."""
    info = _info(reader)
    title = (
        _clean_title(info.get("/Title"))
        or scan_title
        or next((path[0] for _, started in outline for path in started), None)
        or _first_line_title(sections[0].text)
        or humanise_stem(name)
    )
    updated_at: date | None = parse_pdf_date(info.get("/ModDate")) or parse_pdf_date(
        info.get("/CreationDate")
    )
    metadata = {
        key.lstrip("/").lower(): text
        for key in ("/Author", "/Subject", "/Keywords")
        if (text := _info_text(info.get(key)))
    }
    metadata["pages"] = str(page_count)
    return ParsedDocument(
        title=title,
        sections=tuple(sections),
        updated_at=updated_at,
        dates={
            label: value
            for key, label in (("/ModDate", "modified"), ("/CreationDate", "created"))
            if (value := parse_pdf_date(info.get(key))) is not None
        },
        media_type=media_type,
        metadata=metadata,
    )


#: Marginal notes ("New feature 1995/12/01" beside a paragraph, as LaTeX documentation
#: prints them; `pdf_text.MARGIN_START` says how far right and how short) start at one
#: place, on at least this many pages of the document, to the right of where nearly all
#: (`MARGIN_BEYOND`) other pieces that far right start: body lines end there, a note's
#: column lies beyond them. PDFium reads a note onto the end of the body line beside it
#: ("you want to New feature"), so it is cut from the text.
MARGIN_REPEATS = 3
MARGIN_BEYOND = 0.98


#: A page with fewer characters than this in its text layer and an image on it is a scan.
MIN_TEXT_CHARS = 16


def _read_pages(name: str, data: bytes, page_count: int) -> tuple[list[PageText | None], list[int]]:
    """Each page's lines from PDFium (None for a page it cannot read), and the indexes of
    the scanned pages (`MIN_TEXT_CHARS`)."""
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        raise InvalidDocument(
            f"{name} could not be read as a PDF; it may be corrupt or truncated"
        ) from None
    pages: list[PageText | None] = []
    scans: list[int] = []
    try:
        for index in range(min(page_count, len(document))):
            try:
                page = document[index]
                try:
                    pages.append(read_page(page))
                    if _is_scan(page, pages[-1]):
                        scans.append(index)
                finally:
                    page.close()
            except MemoryError:  # past the parse's memory budget (services/parse_pool.py)
                raise
            except Exception:  # one bad page should not lose the rest of the document
                pages.append(None)
    finally:
        document.close()
    return pages + [None] * (page_count - len(pages)), scans


def _is_scan(page: pdfium.PdfPage, text: PageText | None) -> bool:
    if text is not None and sum(len(line.text.strip()) for line in text.lines) >= MIN_TEXT_CHARS:
        return False
    return any(isinstance(item, pdfium.PdfImage) for item in page.get_objects(max_depth=3))


def _ocr_scale(size: tuple[float, float], ocr: OcrOptions, budget: InputBudget) -> float:
    """Pixels per PDF point a scanned page is rendered at: the OCR dpi, less where the page is
    so large that its pixels would pass `max_image_pixels`."""
    width, height = size
    return min(ocr.dpi / 72, (budget.max_image_pixels / max(width * height, 1.0)) ** 0.5)


def _page_size(document: pdfium.PdfDocument, index: int) -> tuple[float, float]:
    page = document[index]
    try:
        width, height = page.get_size()
        return width, height
    finally:
        page.close()


def _rendered(document: pdfium.PdfDocument, scans: Sequence[int], scales: Sequence[float]) -> Any:
    """Each scanned page as a grey Pillow image, rendered one at a time in this thread (PDFium
    is not thread-safe) as OCR asks for the next."""
    for index, scale in zip(scans, scales, strict=True):
        page = document[index]
        try:
            bitmap = page.render(scale=scale, grayscale=True)
            try:
                yield bitmap.to_pil().copy()  # the copy owns its pixels once the bitmap closes
            finally:
                bitmap.close()
        finally:
            page.close()


def _ocr_page_text(lines: Sequence[OcrLine], size: tuple[float, float], scale: float) -> PageText:
    """A scanned page's lines as OCR read them, placed and sized in PDF points like a text
    page's: the type size is Tesseract's estimate (`OcrLine.size`), made steady over the
    document by `steady_sizes`, so that a scan's headings are found as a text PDF's are;
    the short lines right of the text are its pieces that may be marginal notes
    (`pdf_text.margin_pieces`)."""
    width, height = size
    return PageText(
        tuple(
            Line(
                line.text,
                height - line.top / scale,
                height - line.bottom / scale,
                line.size / scale,
            )
            for line in lines
        ),
        height or 1.0,
        margin_pieces(
            [
                (left / scale, text)
                for line in lines
                for left, text in ((line.left, line.text), *line.joined)
            ],
            width or 1.0,
        ),
    )


def _without_margin_notes(
    pages: Sequence[tuple[str, tuple[tuple[int, str], ...]] | None],
) -> list[str | None]:
    """Each page's text without the pieces that start in the document's column of marginal
    notes, if it has one (`MARGIN_REPEATS`, `MARGIN_BEYOND`)."""
    counts = Counter(x for page in pages if page is not None for x in {x for x, _ in page[1]})
    column = counts.most_common(1)[0][0] if counts else None
    others = sorted(x for page in pages if page is not None for x, _ in page[1] if x != column)
    if (
        column is None
        or counts[column] < MARGIN_REPEATS
        or (others and others[int(MARGIN_BEYOND * (len(others) - 1))] >= column)
    ):
        column = None
    texts: list[str | None] = []
    for page in pages:
        if page is None:
            texts.append(None)
            continue
        text, right = page
        cursor = 0
        for x, piece in right:
            if column is None or abs(x - column) > 1:
                continue
            at = text.find(piece, cursor)
            if at < 0:
                continue
            text = f"{text[:at]}\n{text[at + len(piece) :]}"
            cursor = at
        texts.append(text)
    return texts


#: A word broken by a hyphen at a line's end: its two halves ("ar-" / "guments"), with any
#: blank line between them (pypdf puts one where a column or a float interrupts the text).
#: The first half starts a word (not "-NoValue-", whose hyphens are its own); the second is
#: lower case, as a word's continuation is.
_BROKEN_WORD = re.compile(r"(?<![\w-])([^\W\d_]+)-[ \t]*\n\s*([^\W\d_A-Z]+)\b")
_WORD = re.compile(r"[^\W\d_]+")
#: What `_BROKEN_WORD` and `_COMPOUND` need at least (a hyphen ending a line; a hyphen between
#: letters): looked for first, a scan far cheaper than either pattern's (a page of short
#: lines without either is most of the cost of both).
_LINE_END_HYPHEN = re.compile(r"-[ \t]*\n")
_COMPOUND = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)+")
_LETTER_HYPHEN_LETTER = re.compile(r"[^\W\d_]-[^\W\d_]")


#: The longest start of a page that may finish the sentence the page before broke off.
MAX_CARRIED_CHARS = 400
#: A line that ends a statement (a sentence, or a lead-in ending with ":").
_ENDS_STATEMENT = re.compile(r"[.!?:][\"”’')\]]?$")


def whole_sentences(texts: Sequence[str | None], labels: Sequence[str]) -> list[str | None]:
    """The pages' texts without their printed page numbers, and with each sentence a page
    break cut in two whole on the page where it starts.

    - A page's last line that is its own label ("33", "iv") is the printed page number: it
      goes (it would read as the end of the page's last sentence: "... there 33").
    - A page that ends mid-sentence (its last line ends without ".", "!", "?" or ":") and a
      next page that goes on in lower case ("is also \\UseLegacyTextSymbols. The latter
      ..."): the next page's words up to the end of that sentence (at most
      `MAX_CARRIED_CHARS`) move to the end of the page before, so that the sentence is read,
      found and quoted whole, under the page it starts on."""
    pages = [_without_page_number(text, label) for text, label in zip(texts, labels, strict=True)]
    for index in range(len(pages) - 1):
        before, after = pages[index], pages[index + 1]
        if not before or not after:
            continue
        rest = after.lstrip()
        if not rest[:1].islower() or _ENDS_STATEMENT.search(before.rstrip()):
            continue
        end = next(sentence_breaks(rest, 0, MAX_CARRIED_CHARS), None)
        if end is None:
            continue
        pages[index] = f"{before.rstrip()}\n{rest[: end[0]]}"
        pages[index + 1] = rest[end[0] :].lstrip(" ")
    return pages


#: A definition list as a PDF prints it, term and description on one line with only a gap
#: between them: "ssub Silent variant of 'sub', only loggings.", "m Medium weight and width",
#: "O Given as O{<default>}, is like o ...". The term: a lower-case word of up to 16
#: characters, a command ("\\foo") or a single capital letter other than "A" and "I"; the
#: description starts with a capitalised word.
_TERM_LINE = re.compile(
    r"^(?P<term>\\?[a-z][a-z0-9@*]{0,15}|\\[A-Za-z@]{1,30}|[B-HJ-Z])"
    r"[ \t]+(?P<text>[A-Z][a-z]+\b.*)$"
)


def labelled_terms(text: str) -> str:
    """`text` with each definition-list line the PDF printed as "term Description" written
    "term — Description", as the HTML loader writes a definition list, so that an answer
    keeps the term with what it says (the term is often what was asked: "what's alias
    for?"). A line counts when it starts a statement (the line before ends one, or is blank,
    or it is the page's first) and its term is no English function word ("the", "for")."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        found = _TERM_LINE.match(line.strip())
        if found is None or found.group("term").lower() in STOPWORDS:
            continue
        before = lines[index - 1].strip() if index else ""
        if before and not _ENDS_STATEMENT.search(before):
            continue
        lines[index] = f"{found.group('term')} — {found.group('text')}"
    return "\n".join(lines)


def _without_page_number(text: str | None, label: str) -> str | None:
    if text is None:
        return None
    lines = text.rstrip().split("\n")
    if len(lines) > 1 and lines[-1].strip().lower() == label.lower():
        return "\n".join(lines[:-1])
    return text


def join_broken_words(text: str, known: Callable[[str], bool]) -> str:
    """`text` with the words a typesetter hyphenated at a line's end made whole.

    "ar-\nguments" becomes "arguments" when `known("arguments")` (a word of the document
    or of English). A compound broken at its own hyphen ("user-\ndefined") becomes
    "user-defined" when `known` has that form instead; a break that is neither is left as
    it is.
    """

    def join(found: re.Match[str]) -> str:
        left, right = found.group(1), found.group(2)
        if known((left + right).lower()):
            return left + right
        if known(f"{left}-{right}".lower()):
            return f"{left}-{right}"
        return found.group(0)

    return _BROKEN_WORD.sub(join, text) if _LINE_END_HYPHEN.search(text) else text


def _known_words(texts: Sequence[str | None]) -> Callable[[str], bool]:
    """Whether a word is the document's own (written whole somewhere in it, or as a
    hyphenated compound on one line) or English (the spelling list the offline model
    uses)."""
    english = english_words()
    own: set[str] = set()
    for text in texts:
        if text is None:
            continue
        unbroken = (_BROKEN_WORD.sub(" ", text) if _LINE_END_HYPHEN.search(text) else text).lower()
        own.update(_WORD.findall(unbroken))
        if _LETTER_HYPHEN_LETTER.search(unbroken):
            own.update(_COMPOUND.findall(unbroken))
    return lambda word: word in own or word in english


def _unlock(name: str, reader: PdfReader) -> None:
    if not reader.is_encrypted:
        return
    try:
        unlocked = reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception:  # e.g. an encryption algorithm pypdf cannot handle here
        unlocked = False
    if not unlocked:
        raise InvalidDocument(f"{name} is password-protected (encrypted PDFs are not supported)")


def _info(reader: PdfReader) -> dict[str, Any]:
    try:
        info = reader.metadata
        return dict(info) if info is not None else {}
    except Exception:
        return {}


def _info_text(value: object) -> str | None:
    if value is None:
        return None
    try:
        text = " ".join(str(value).replace("\x00", "").split())
    except Exception:
        return None
    return text or None


def _clean_title(value: object) -> str | None:
    text = _info_text(value)
    if text is None:
        return None
    text = _OFFICE_SUFFIX.sub("", _WORD_PREFIX.sub("", text)).strip()
    if not text or text.lower() in _USELESS_TITLES:
        return None
    return text


def _first_line_title(text: str) -> str | None:
    for line in text.split("\n"):
        candidate = " ".join(line.split())
        if candidate:
            return candidate if len(candidate) <= MAX_TITLE_CHARS else None
    return None


def _page_labels(reader: PdfReader, page_count: int) -> list[str]:
    try:
        labels = [str(label).strip() for label in reader.page_labels]
    except Exception:
        labels = []
    if len(labels) != page_count or not all(labels):
        return [str(number) for number in range(1, page_count + 1)]
    return labels


OutlinePath = tuple[str, ...]
#: The path in force where a page starts, and the paths starting on it.
PageOutline = tuple[OutlinePath, list[OutlinePath]]


def _outline_pages(reader: PdfReader, page_count: int) -> list[PageOutline]:
    """For each page, the outline (bookmark) path in force where it starts and the paths of
    the bookmarks starting on it, in outline order; empty when there is no outline."""
    try:
        starts = _outline_starts(reader, reader.outline, ())
    except Exception:  # broken outlines are common and never worth failing a document for
        return []
    return _by_page(starts, page_count) if starts else []


def _heading_pages(
    found: Sequence[Sequence[tuple[int, str]]], page_count: int
) -> list[PageOutline]:
    """`_outline_pages` for a document without bookmarks: its headings (by type size, level
    0 the largest) as the outline, each under the last larger one before it."""
    starts: list[tuple[int, OutlinePath]] = []
    stack: list[tuple[int, str]] = []
    for page, lines in enumerate(found):
        for level, title in lines:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            starts.append((page, tuple(title for _, title in stack)))
    return _by_page(starts, page_count)


def _by_page(starts: Sequence[tuple[int, OutlinePath]], page_count: int) -> list[PageOutline]:
    by_page: dict[int, list[OutlinePath]] = {}
    for page, path in starts:
        by_page.setdefault(page, []).append(path)
    pages: list[PageOutline] = []
    current: OutlinePath = ()
    for index in range(page_count):
        started = by_page.get(index, [])
        pages.append((current, started))
        if started:
            current = started[-1]
    return pages


def split_at_titles(
    text: str, before: OutlinePath, started: Sequence[OutlinePath]
) -> list[tuple[OutlinePath, str]]:
    """A page's text as (outline path, text) parts: a bookmark starting on the page whose
    title is a line of it ("3.1 Identification") heads the lines from there on, without the
    title line (the path names it; a title with no lines of its own before the next title,
    when that is no title under it, stays a line of the text under that one); the lines
    above the first such title go on with the path in force before the page. A page none of
    whose bookmarks' titles is found is one part, under the first bookmark starting on it
    (or the one in force)."""
    if not text:
        return []
    lines = text.split("\n")
    found: list[tuple[int, OutlinePath]] = []  # (line index, path)
    unfound: list[OutlinePath] = []  # bookmarks before the first title found (their place unknown)
    at = 0
    for path in started:
        index = _title_line(lines, path[-1], at)
        if index is None:
            if not found:
                unfound.append(path)
            continue
        found.append((index, path))
        at = index + 1
    if not found:
        parts = [(started[0] if started else before, lines)]
    else:
        parts = [(unfound[-1] if unfound else before, lines[: found[0][0]])]
        titles: list[str] = []  # titles with no text of their own: read with what follows
        for number, (index, path) in enumerate(found):
            end = found[number + 1][0] if number + 1 < len(found) else len(lines)
            body = lines[index + 1 : end]
            if "".join(body).strip():
                parts.append((path, [*titles, *body]))
                titles = []
            elif number + 1 < len(found) and found[number + 1][1][: len(path)] != path:
                titles.append(lines[index])  # not named by the next title's path
    return [
        (path, joined)
        for outlined, part in parts
        for path, piece in _split_at_numbered_headings(outlined, part)
        if (joined := "\n".join(piece).strip())
    ]


#: A numbered heading printed as a line of its own: "2.7.3 Make it portable".
_NUMBERED_HEADING = re.compile(r"^(\d+(?:\.\d+)+)\.?\s+[A-Z][^.!?]{1,80}$")


def _split_at_numbered_headings(
    path: OutlinePath, lines: list[str]
) -> list[tuple[OutlinePath, list[str]]]:
    """`lines` under `path`, split where a numbered heading below the bookmark's own number
    starts a line ("2.7.3 Make it portable" under "2.7 General style", which has no bookmark
    of its own): the heading goes into the path of the lines after it."""
    number = re.match(r"(\d+(?:\.\d+)*)\.?\s", path[-1]) if path else None
    if number is None:
        return [(path, lines)]
    below = number.group(1) + "."
    parts: list[tuple[OutlinePath, list[str]]] = [(path, [])]
    for line in lines:
        heading = _NUMBERED_HEADING.match(line.strip())
        if heading is not None and heading.group(1).startswith(below):
            parts.append(((*path, " ".join(line.split())), []))
        else:
            parts[-1][1].append(line)
    return parts


def _title_line(lines: Sequence[str], title: str, start: int) -> int | None:
    """The index of the first line from `start` that is `title`, or `title` after a section
    number ("3.1 Identification" for the bookmark "Identification"), the number's dot aside
    ("1.3. Further information" for "1.3 Further information": a scan's heading is written
    without the dot OCR read, `pdf_text.scan_headings`, its line as read)."""
    wanted = undotted(_comparable(title))
    for index in range(start, len(lines)):
        line = undotted(_comparable(lines[index]))
        if line == wanted or _SECTION_NUMBER.sub("", line, count=1) == wanted:
            return index
    return None


def _comparable(text: str) -> str:
    """`text` as titles are compared: spaces squeezed, case folded, quotes plain (a bookmark
    says "`docstrip'" where the page prints "‘docstrip’")."""
    return " ".join(text.translate(_PLAIN_QUOTES).split()).casefold()


_PLAIN_QUOTES = str.maketrans({"‘": "'", "’": "'", "`": "'", "“": '"', "”": '"'})

#: A section number before a heading's words: "3.1 ", "A.2 ", "4. ".
_SECTION_NUMBER = re.compile(r"^(?:\d+|[a-z])(?:\.\d+)*\.?\s+")


def _outline_starts(
    reader: PdfReader, items: Sequence[Any], parent: tuple[str, ...]
) -> list[tuple[int, tuple[str, ...]]]:
    """(0-based page, path) for every outline entry, depth first."""
    starts: list[tuple[int, tuple[str, ...]]] = []
    path = parent
    for item in items:
        if isinstance(item, list):
            starts.extend(_outline_starts(reader, item, path))
            continue
        title = " ".join(str(getattr(item, "title", "") or "").split())
        if not title:
            continue
        path = (*parent, title)
        page = reader.get_destination_page_number(item)
        if page is not None and page >= 0:
            starts.append((page, path))
    return starts
