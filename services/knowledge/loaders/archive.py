"""Zip archives (`.zip`): each member read by the loader the registry has for its name, as
sections of the archive's one document headed `archive.zip/member/path`
(services/knowledge/loaders/members.py has the rules they share with e-mail).

- Members in the archive's order; folders, macOS's `__MACOSX/` copies and `._` files are
  no members. A member of a type Almanac does not read, or that its loader refuses, is
  skipped and named in the `skipped` metadata; the rest is read.
- Budgets, from the directory before anything is inflated, then counted while inflating
  (the sizes a directory declares are not trusted): members (ARCHIVE_MAX_MEMBERS), their
  unpacked bytes together (ARCHIVE_MAX_UNPACKED_MB) and each one's packing ratio
  (ARCHIVE_MAX_RATIO, with `ratio_floor` always allowed); past any, 413 naming the setting.
  An archive nested in it is read once (one level) and counts with it.
- A member name that is absolute or steps out with `..` refuses the archive (422); an
  encrypted member, or one packed with a method Python's zip reader lacks, is skipped.
- Title: the file name made readable; `updated_at`: the latest of the members'.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

from services.budgets import ARCHIVE_ERRORS, BUDGET, BoundedReader, InputBudget
from services.knowledge.loaders.common import ensure_not_empty, extension, humanise_stem
from services.knowledge.loaders.members import (
    MEMBERS_SETTING,
    RATIO_SETTING,
    UNPACKED_SETTING,
    ContainerTooCostly,
    Folded,
    Members,
    safe_member_name,
)
from services.knowledge.loaders.ocr import OcrOptions
from use_cases.knowledge.domain import ParsedDocument
from use_cases.shared.errors import InputTooCostly, InvalidDocument

ZIP_EXTENSIONS = (".zip",)
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_READ_CHUNK = 256 * 1024


def archive_members(
    name: str, archive: zipfile.ZipFile, budget: InputBudget
) -> list[zipfile.ZipInfo]:
    """The archive's members to read, once their names, count, sizes and ratios pass the
    budgets (the module docstring); shared with `.epub`."""
    found = []
    total = 0
    for info in archive.infolist():
        member = safe_member_name(name, info.filename)
        base = PurePosixPath(member).name
        if info.is_dir() or member.startswith("__MACOSX/") or base.startswith("._"):
            continue
        found.append(info)
        if len(found) > budget.max_archive_members:
            raise ContainerTooCostly(
                f"{name} holds more than {budget.max_archive_members:,} members: refused "
                f"({MEMBERS_SETTING})."
            )
        limit = member_limit(budget, info.compress_size)
        if info.file_size > limit:
            raise ContainerTooCostly(
                f"{name}: its member {member} unpacks to {info.file_size:,} bytes, more than "
                f"the {limit:,} allowed for its packed size: refused ({RATIO_SETTING})."
            )
        total += info.file_size
        if total > budget.max_archive_unpacked:
            raise ContainerTooCostly(
                f"{name} unpacks to more than {budget.max_archive_unpacked:,} bytes: refused "
                f"({UNPACKED_SETTING})."
            )
    return found


def member_limit(budget: InputBudget, compressed: int) -> int:
    """Bytes one member of `compressed` bytes may unpack to (ARCHIVE_MAX_RATIO)."""
    ratio = max(budget.ratio_floor, budget.max_archive_ratio * max(compressed, 0))
    return min(budget.max_unpacked, budget.max_archive_unpacked, ratio)


def read_member(
    name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: InputBudget
) -> bytes:
    """A member's bytes, counted while inflating against `member_limit`; a member that is
    encrypted, packed with another method or corrupt is `InvalidDocument` (the caller
    skips it)."""
    if info.flag_bits & 0x1:
        raise InvalidDocument(f"{info.filename}: encrypted")
    if info.compress_type not in _METHODS:
        raise InvalidDocument(f"{info.filename}: packed with method {info.compress_type}")
    limit = member_limit(budget, info.compress_size)
    what = f"{name}: its member {info.filename}"
    try:
        with archive.open(info) as handle:
            reader = BoundedReader(handle, limit, what)
            chunks = []
            while chunk := reader.read(_READ_CHUNK):
                chunks.append(chunk)
    except InputTooCostly as exc:  # it inflates past what the directory declared
        raise ContainerTooCostly(f"{exc} ({RATIO_SETTING})") from None
    except ARCHIVE_ERRORS as exc:
        raise InvalidDocument(
            f"{info.filename}: cannot be unpacked ({type(exc).__name__})"
        ) from None
    return b"".join(chunks)


def open_archive(name: str, data: bytes, kind: str) -> zipfile.ZipFile:
    ensure_not_empty(name, data)
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except ARCHIVE_ERRORS:
        raise InvalidDocument(
            f"{name} is not a readable {kind}; it may be corrupt or truncated."
        ) from None


class ZipLoader:
    """Loads `.zip` archives (the module docstring has the rules)."""

    extensions = ZIP_EXTENSIONS
    media_type = "application/zip"
    reads_scans = True  # its members may be scans: they get the OCR options

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

    def nested(self, members: Members, root: tuple[str, ...]) -> ZipLoader:
        """This loader inside another container (sharing its budgets' tally), its members
        headed `<root's last>/<member>` below the rest of `root`."""
        return ZipLoader(self._ocr, self._budget, members, root)

    def supports(self, name: str) -> bool:
        return extension(name) in ZIP_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        with open_archive(name, data, "zip archive") as archive:
            archive_members(name, archive, self._budget)

    def load(self, name: str, data: bytes) -> ParsedDocument:
        members = self._members or Members(self._ocr, self._budget)
        base = PurePosixPath(name.replace("\\", "/")).name
        *head, label = self._root or (base,)
        folded = Folded()
        with open_archive(name, data, "zip archive") as archive:
            infos = archive_members(name, archive, self._budget)
            for info in infos:
                member = info.filename.replace("\\", "/")
                try:
                    content = read_member(base, archive, info, self._budget)
                except InvalidDocument as exc:
                    folded.skip(member, str(exc).partition(": ")[2] or str(exc))
                    continue
                members.tally.bytes(base, len(content))
                members.read(base, member, content, folded, (*head, f"{label}/{member}"))
        folded.ensure_text(name)
        return ParsedDocument(
            title=humanise_stem(name),
            sections=tuple(folded.sections),
            updated_at=folded.latest,
            media_type=self.media_type,
            metadata={"members": str(len(infos)), **folded.metadata()},
        )
