"""The files inside a file: an archive's members, an e-mail's attachments, a mailbox's
messages, each read by the loader the registry has for its name, and folded into the
container's one document as sections.

A loader makes one `ParsedDocument` of one file, so a member's sections are the container's,
each heading path led by where the member stands ("handbook.zip/policies/parking.md",
"Attachment: budget.xlsx"): a citation says which member it came from.

Rules:
- Budgets (services/budgets.py), for a container and every container nested in it together
  (`Tally`): members read (`max_archive_members`: ARCHIVE_MAX_MEMBERS) and bytes unpacked
  (`max_archive_unpacked`: ARCHIVE_MAX_UNPACKED_MB). Past either, `InputTooCostly` (413)
  naming the setting: the whole container is refused.
- Containers nest one level (`MAX_NESTING`): a zip in a zip, or a mail attached to a mail
  in a zip, is read; a container deeper than that is skipped, and said so.
- A member the registry has no loader for, or whose loader refuses it (empty, corrupt, an
  unsupported type, over its own budget), is skipped and named in the document's
  `skipped` metadata with the reason; the rest is read. A container none of whose members
  gives text is `InvalidDocument` (422) naming what was skipped.
- Member names are checked before anything is read (`safe_member_name`): an absolute name,
  a drive letter or a `..` step is refused (422) for the whole container: nothing of it is
  written anywhere, but a name that leads out of the archive is the mark of a hostile one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from services.budgets import BUDGET, InputBudget
from services.knowledge.loaders.common import extension
from use_cases.knowledge.domain import ParsedDocument, ParsedSection
from use_cases.shared.errors import InputTooCostly, InvalidDocument, UnsupportedDocument

if TYPE_CHECKING:
    from services.knowledge.loaders.ocr import OcrOptions
    from use_cases.knowledge.ports import DocumentLoader

#: Containers read inside a container: one level (a zip in a zip), not two.
MAX_NESTING = 1
MEMBERS_SETTING = "ARCHIVE_MAX_MEMBERS"
UNPACKED_SETTING = "ARCHIVE_MAX_UNPACKED_MB"
RATIO_SETTING = "ARCHIVE_MAX_RATIO"
#: Skipped members named in the metadata, at most (then "and N more").
_SKIPPED_SHOWN = 20
_DRIVE = re.compile(r"^[A-Za-z]:")


class ContainerTooCostly(InputTooCostly):
    """A container past its own budgets (not a member past its loader's): the whole
    container is refused (413, as any `InputTooCostly`)."""


@dataclass
class Tally:
    """What a container and those nested in it have used of their budgets."""

    budget: InputBudget
    members: int = 0
    unpacked: int = 0

    def member(self, container: str) -> None:
        self.members += 1
        if self.members > self.budget.max_archive_members:
            raise ContainerTooCostly(
                f"{container} holds more than {self.budget.max_archive_members:,} members "
                f"(nested ones counted): refused ({MEMBERS_SETTING})."
            )

    def bytes(self, container: str, count: int) -> None:
        self.unpacked += count
        if self.unpacked > self.budget.max_archive_unpacked:
            raise ContainerTooCostly(
                f"{container} unpacks to more than {self.budget.max_archive_unpacked:,} bytes "
                f"(nested archives counted): refused ({UNPACKED_SETTING})."
            )


@dataclass
class Folded:
    """The members read so far: their sections, latest date and the skipped ones."""

    sections: list[ParsedSection] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    read: int = 0
    latest: Any = None

    def add(self, where: tuple[str, ...], document: ParsedDocument) -> None:
        """`document`'s sections, their heading paths led by `where`."""
        self.read += 1
        self.sections += [
            ParsedSection((*where, *section.heading_path), section.text)
            for section in document.sections
        ]
        if document.updated_at and (self.latest is None or document.updated_at > self.latest):
            self.latest = document.updated_at

    def skip(self, member: str, reason: str) -> None:
        self.skipped.append(f"{member} ({reason})")

    def metadata(self) -> dict[str, str]:
        shown = self.skipped[:_SKIPPED_SHOWN]
        more = len(self.skipped) - len(shown)
        found = {"members_read": str(self.read)}
        if shown:
            found["skipped"] = "; ".join(shown) + (f"; and {more} more" if more else "")
        return found

    def ensure_text(self, name: str) -> None:
        if not any(section.text.strip() for section in self.sections):
            why = f": skipped {'; '.join(self.skipped[:_SKIPPED_SHOWN])}" if self.skipped else ""
            raise InvalidDocument(f"{name} has no member with readable text{why}")


class Members:
    """Reads member files with the registry's loaders, at a nesting `depth` (0: the
    container is the uploaded file itself), sharing one `Tally`."""

    def __init__(
        self,
        ocr: OcrOptions | None,
        budget: InputBudget = BUDGET,
        *,
        depth: int = 0,
        tally: Tally | None = None,
    ) -> None:
        self.ocr = ocr
        self.budget = budget
        self.depth = depth
        self.tally = tally or Tally(budget)
        self._loaders: dict[str, DocumentLoader] | None = None

    def _by_extension(self) -> dict[str, DocumentLoader]:
        if self._loaders is None:
            from services.knowledge.loaders.registry import registered_loaders

            self._loaders = {
                ext: entry.loader
                for entry in registered_loaders(self.ocr, self.budget)
                for ext in entry.extensions
            }
        return self._loaders

    def read(
        self, container: str, member: str, data: bytes, folded: Folded, where: tuple[str, ...]
    ) -> None:
        """`member`'s document folded in under `where`, or its skip recorded. A nested
        container (a loader with `nested(members, where)`) heads its own sections."""
        self.tally.member(container)
        loader = self._by_extension().get(extension(member))
        if loader is None:
            kind = extension(member) or "no extension"
            folded.skip(member, f"{kind}: not a type Almanac reads")
            return
        nested = getattr(loader, "nested", None)
        if callable(nested):
            if self.depth >= MAX_NESTING:
                folded.skip(member, "a container nested more than one level deep")
                return
            loader = nested(
                Members(self.ocr, self.budget, depth=self.depth + 1, tally=self.tally), where
            )
        try:
            document = loader.load(member, data)
        except ContainerTooCostly:
            raise
        except (InvalidDocument, UnsupportedDocument, InputTooCostly) as exc:
            folded.skip(member, _reason(exc, member))
            return
        if callable(nested):  # its own skipped members, named from this container
            folded.skipped += [
                f"{member}/{entry}"
                for entry in document.metadata.get("skipped", "").split("; ")
                if entry
            ]
        folded.add(() if callable(nested) else where, document)


def _reason(exc: Exception, member: str) -> str:
    text = " ".join(str(exc).split())
    base = PurePosixPath(member).name
    for prefix in (f"{member}: ", f"{base}: ", f"{member} ", f"{base} "):
        if text.startswith(prefix):
            return text[len(prefix) :].rstrip(".")
    return text.rstrip(".")


def safe_member_name(container: str, member: str) -> str:
    """`member` with `\\` read as `/`; `InvalidDocument` for a name that is absolute, has a
    drive letter or steps out with `..` (module docstring)."""
    name = member.replace("\\", "/")
    parts = name.split("/")
    if name.startswith("/") or _DRIVE.match(name) or ".." in parts or "\x00" in name:
        raise InvalidDocument(
            f"{container}: its member {member!r} has an unsafe name (absolute, or leading out "
            "of the archive with '..'): refused."
        )
    return name
