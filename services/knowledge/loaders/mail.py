"""E-mail: one message (`.eml`, RFC 5322, as mail clients save it) or a mailbox of them
(`.mbox`, as Thunderbird, mutt and Google Takeout export), read with Python's `email`
package (the `default` policy: headers decoded, MIME parts walked).

- A message: its subject is the heading of its sections (the document's title for an
  `.eml`); its body (the plain-text part, else the HTML part read as HTML is) follows a
  header block ("From:", "To:", "Cc:", "Date:"), so a search for a sender finds it.
- Attachments each read by the loader the registry has for their name, as sections of the
  message headed `(subject, "Attachment: <file name>", ...)`: a loader makes one document
  of one file, so they are sections, not documents of their own (services/knowledge/
  loaders/members.py has the rules: budgets, skipped members, nesting one level). A
  message attached to a message is read as an `.eml`. Images inline in the HTML body (with
  a Content-ID) are part of the body, not attachments, and are not read.
- `updated_at`: the message's `Date` (a mailbox's: its latest); sender, recipients and the
  Message-ID go to metadata (a mailbox's: the message count).
- A mailbox is split where a line starts with "From " at its start or after a blank line
  (mboxo and mboxrd; a body line ">From " is unescaped); bytes that do not start so are not
  a mailbox (422). Messages count as members (ARCHIVE_MAX_MEMBERS), as do an e-mail's MIME
  parts; past it, 413.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date
from email.message import EmailMessage, Message
from pathlib import PurePosixPath

from services.budgets import BUDGET, InputBudget
from services.knowledge.loaders.common import (
    decode_text,
    ensure_not_empty,
    ensure_textual,
    extension,
    humanise_stem,
    parse_date,
    tidy_text,
)
from services.knowledge.loaders.members import (
    MEMBERS_SETTING,
    ContainerTooCostly,
    Folded,
    Members,
)
from services.knowledge.loaders.ocr import OcrOptions
from use_cases.knowledge.domain import ParsedDocument, ParsedSection
from use_cases.shared.errors import InvalidDocument

EML_EXTENSIONS = (".eml",)
MBOX_EXTENSIONS = (".mbox",)
_SEPARATOR = re.compile(rb"(?:\A|(?<=\n\n)|(?<=\r\n\r\n))From [^\n]*\n")
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)
_HEADERS = (("From", "from"), ("To", "to"), ("Cc", "cc"), ("Date", None))


class _MailLoader:
    """What `.eml` and `.mbox` share: the options, the members' reader and nesting."""

    extensions: tuple[str, ...] = ()
    reads_scans = True  # attachments may be scans: they get the OCR options

    def __init__(
        self,
        ocr: OcrOptions | None = None,
        budget: InputBudget = BUDGET,
        members: Members | None = None,
        root: tuple[str, ...] = (),
    ) -> None:
        self._ocr = ocr
        self._budget = budget
        self._members = members
        self._root = root

    def nested(self, members: Members, root: tuple[str, ...]) -> _MailLoader:
        """This loader inside another container, its sections below `root`."""
        return type(self)(self._ocr, self._budget, members, root)

    def supports(self, name: str) -> bool:
        return extension(name) in self.extensions

    def _reader(self) -> Members:
        return self._members or Members(self._ocr, self._budget)


class EmlLoader(_MailLoader):
    """Loads one e-mail message (the module docstring has the rules)."""

    extensions = EML_EXTENSIONS
    media_type = "message/rfc822"

    def check(self, name: str, data: bytes) -> None:
        ensure_not_empty(name, data)
        ensure_textual(name, data)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        self.check(name, data)
        message = _parse(name, data)
        folded = Folded()
        found = _read_message(name, message, self._reader(), folded, self._root)
        folded.ensure_text(name)
        return ParsedDocument(
            title=found.subject,
            sections=tuple(folded.sections),
            updated_at=found.sent,
            dates={"sent": found.sent} if found.sent else {},
            media_type=self.media_type,
            metadata={**found.metadata, **folded.metadata()},
        )


class MboxLoader(_MailLoader):
    """Loads a mailbox of messages (the module docstring has the rules)."""

    extensions = MBOX_EXTENSIONS
    media_type = "application/mbox"

    def check(self, name: str, data: bytes) -> None:
        ensure_not_empty(name, data)
        ensure_textual(name, data)
        if not data.lstrip(b"\r\n").startswith(b"From "):
            raise InvalidDocument(
                f"{name} is not a mailbox: an mbox file starts with a 'From ' line."
            )

    def load(self, name: str, data: bytes) -> ParsedDocument:
        self.check(name, data)
        members = self._reader()
        folded = Folded()
        count = 0
        for raw in _split(data.lstrip(b"\r\n")):
            count += 1
            members.tally.member(name)
            message = _parse(name, _ESCAPED_FROM.sub(rb"\1", raw))
            _read_message(name, message, members, folded, self._root)
        folded.ensure_text(name)
        return ParsedDocument(
            title=humanise_stem(name),
            sections=tuple(folded.sections),
            updated_at=folded.latest,
            media_type=self.media_type,
            metadata={"messages": str(count), **folded.metadata()},
        )


def _split(data: bytes) -> list[bytes]:
    found = list(_SEPARATOR.finditer(data))
    starts = [match.end() for match in found]
    ends = [*(match.start() for match in found[1:]), len(data)]
    return [data[start:end] for start, end in zip(starts, ends, strict=True)]


def _parse(name: str, data: bytes) -> EmailMessage:
    try:
        message = email.message_from_bytes(data, policy=email.policy.default)
    except (ValueError, TypeError, LookupError, RecursionError) as exc:
        raise InvalidDocument(f"{name} is not a readable e-mail ({type(exc).__name__}).") from None
    assert isinstance(message, EmailMessage)
    return message


class _Found:
    """A message's subject, date and header metadata."""

    def __init__(self, subject: str, sent: date | None, metadata: dict[str, str]) -> None:
        self.subject = subject
        self.sent = sent
        self.metadata = metadata


def _header(message: Message, key: str) -> str:
    try:
        value = message.get(key)
    except (ValueError, TypeError, LookupError, IndexError):  # a malformed header
        return ""
    return " ".join(str(value or "").split())


def _read_message(
    name: str, message: EmailMessage, members: Members, folded: Folded, root: tuple[str, ...]
) -> _Found:
    try:
        parts = sum(1 for _ in message.walk())
    except RecursionError:
        raise ContainerTooCostly(f"{name} nests its parts too deeply: refused.") from None
    if parts > members.budget.max_archive_members:
        raise ContainerTooCostly(
            f"{name} has more than {members.budget.max_archive_members:,} parts: refused "
            f"({MEMBERS_SETTING})."
        )
    subject = _header(message, "Subject") or humanise_stem(name)
    sent = parse_date(_header(message, "Date"))
    metadata = {key: text for header, key in _HEADERS if key and (text := _header(message, header))}
    if message_id := _header(message, "Message-ID"):
        metadata["message_id"] = message_id
    shown = [f"{header}: {text}" for header, _ in _HEADERS if (text := _header(message, header))]
    body = _body(message)
    head = (*root, subject)
    folded.sections.append(ParsedSection(head, tidy_text("\n".join(shown) + "\n\n" + body)))
    if sent and (folded.latest is None or sent > folded.latest):
        folded.latest = sent
    for number, part in enumerate(message.iter_attachments(), start=1):
        if part.get_content_maintype() == "image" and part.get("Content-ID"):
            continue  # a picture in the HTML body
        filename = _attachment_name(part, number)
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            first = inner[0] if isinstance(inner, list) and inner else None
            data = (
                first.as_bytes(policy=email.policy.default) if isinstance(first, Message) else b""
            )
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        members.read(name, filename, data, folded, (*head, f"Attachment: {filename}"))
    return _Found(subject, sent, metadata)


def _attachment_name(part: Message, number: int) -> str:
    filename = part.get_filename()
    if filename:
        return PurePosixPath(str(filename).replace("\\", "/")).name or f"attachment-{number}"
    if part.get_content_type() == "message/rfc822":
        return f"attachment-{number}.eml"
    return f"attachment-{number}"


def _body(message: EmailMessage) -> str:
    """The plain-text body, else the HTML body's text; "" for a message without one."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown charset, a bad encoding
        raw = part.get_payload(decode=True)
        content = decode_text(raw) if isinstance(raw, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() != "html":
        return content
    from services.knowledge.loaders.html import HtmlLoader

    try:
        page = HtmlLoader().load("body.html", content.encode("utf-8"))
    except InvalidDocument:
        return ""
    return "\n\n".join(section.text for section in page.sections)
