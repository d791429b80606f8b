"""Rich Text Format (`.rtf`: WordPad, TextEdit, LibreOffice and pandoc write it), read with
striprtf (pure Python, linear in the file: one pass of one regular expression; fonts, style
sheets and other destinations are skipped, never decoded, and pictures are cut out before
it runs, by a scan for their group's end).

- Sections: paragraphs with an outline level (`\\outlinelevelN`, directly or through their
  style, `\\sN`, whose definition has one or is named "Heading N+1", as Word and
  LibreOffice write them) are headings of level N+1, with
  the heading path of `SectionBuilder`; without any, the text is one section under the title.
- Body: paragraphs a line each; bullets ("•" and a tab) as "- item" and numbered items as
  "1. item"; a table's rows (cells ending in "|", striprtf's) as a Markdown table.
  Footnotes, comments, headers and footers are left out (destinations striprtf skips).
- Title: the `\\info` group's `\\title`, else the first heading, else the file name.
  `updated_at`: `\\revtim` (else `\\creatim`) when it holds a real date; the author goes to
  metadata.
- Bad input: bytes that do not open with `{\\rtf` are no RTF (422); text in a code page
  Python lacks is read as UTF-8, undecodable bytes replaced.
"""

from __future__ import annotations

import re
from datetime import date

from services.knowledge.loaders.common import (
    SectionBuilder,
    ensure_not_empty,
    ensure_text,
    extension,
    humanise_stem,
    markdown_table,
)
from use_cases.knowledge.domain import ParsedDocument
from use_cases.shared.errors import InvalidDocument

RTF_EXTENSIONS = (".rtf",)
_MARK = "\x1e"
_MARKED = re.compile(rf"^(?:\s*{_MARK}H(\d){_MARK})+\s*")
_OUTLINE = re.compile(r"\\outlinelevel(\d)(?![a-z])")
_STYLE = re.compile(r"\\s(\d+)(?![a-z\d])")
_STYLE_LEVEL = re.compile(r"\{(?:\\\*)?\\s(\d+)(?![a-z\d])[^{};]*?\\outlinelevel(\d)")
_STYLE_NAME = re.compile(r"\{(?:\\\*)?\\s(\d+)(?![a-z\d])[^{};]*\s[Hh]eading\s*([1-9])\s*;")
_INFO = re.compile(r"\{\\(title|author)\s+([^{}]*)\}")
_TIME = re.compile(r"\{\\(revtim|creatim)\\yr(\d+)\\mo(\d+)\\dy(\d+)")
_BULLET = re.compile(r"^\s*[•·▪◦-]\t\s*")
_NUMBERED = re.compile(r"^\s*(\d+)[.)]\t\s*")


class RtfLoader:
    """Loads `.rtf` files (the module docstring has the rules)."""

    extensions = RTF_EXTENSIONS
    media_type = "application/rtf"

    def supports(self, name: str) -> bool:
        return extension(name) in RTF_EXTENSIONS

    def check(self, name: str, data: bytes) -> None:
        ensure_not_empty(name, data)
        if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{\\rtf"):
            raise InvalidDocument(f"{name} is not an RTF document (it does not open with {{\\rtf).")

    def load(self, name: str, data: bytes) -> ParsedDocument:
        self.check(name, data)
        from striprtf.striprtf import rtf_to_text  # imported where it runs

        raw = data.decode("latin-1")  # RTF is 7-bit; its escapes name the code page
        try:
            text = rtf_to_text(_mark_headings(_without_pictures(raw)), errors="replace")
        except (LookupError, ValueError, IndexError) as exc:
            raise InvalidDocument(
                f"{name} is not a readable RTF document ({type(exc).__name__})."
            ) from None
        info = {key: " ".join(value.split()) for key, value in _INFO.findall(raw[:65536])}
        builder = SectionBuilder()
        for block in _blocks(text):
            if isinstance(block, tuple):
                builder.heading(*block)
            else:
                builder.text(block)
        title = info.get("title") or builder.first_h1 or humanise_stem(name)
        sections = builder.sections(title)
        ensure_text(name, "".join(section.text for section in sections))
        dates = _dates(raw[:65536])
        return ParsedDocument(
            title=title,
            sections=sections,
            updated_at=dates.get("revtim") or dates.get("creatim"),
            dates={("modified" if key == "revtim" else "created"): v for key, v in dates.items()},
            media_type=self.media_type,
            metadata={"author": info["author"]} if info.get("author") else {},
        )


def _mark_headings(raw: str) -> str:
    """The RTF with a marker before each heading's text: after every `\\outlinelevelN` of
    the body, and after every `\\sN` whose style (in the style sheet) has an outline level."""
    start = raw.find("{\\stylesheet")
    end = _group_end(raw, start) if start >= 0 else 0
    sheet = raw[start:end] if start >= 0 else ""
    levels = {style: str(int(n) - 1) for style, n in _STYLE_NAME.findall(sheet)}
    levels.update(_STYLE_LEVEL.findall(sheet))  # an explicit outline level wins

    def outline(match: re.Match[str]) -> str:
        return f"{match.group(0)} {_MARK}H{match.group(1)}{_MARK}"

    def style(match: re.Match[str]) -> str:
        level = levels.get(match.group(1))
        return f"{match.group(0)} {_MARK}H{level}{_MARK}" if level is not None else match.group(0)

    body = _OUTLINE.sub(outline, raw[end:])
    return raw[:end] + (_STYLE.sub(style, body) if levels else body)


def _without_pictures(raw: str) -> str:
    """`raw` without its pictures' groups (`{\\pict ...}`), cut out by a scan for braces:
    megabytes of hex that striprtf would otherwise walk character by character."""
    pieces = []
    position = 0
    while (start := raw.find("{\\pict", position)) >= 0:
        pieces.append(raw[position:start])
        position = _group_end(raw, start)
    pieces.append(raw[position:])
    return "".join(pieces)


def _group_end(raw: str, start: int) -> int:
    """The index after the group opening at `start` closes (the end of the text if never)."""
    depth = 0
    for match in re.finditer(r"\\[{}\\]|[{}]", raw[start:]):
        token = match.group(0)
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth == 0:
                return start + match.end()
    return len(raw)


def _blocks(text: str) -> list[tuple[int, str] | str]:
    """Headings as (level, text), the rest as body text ready for `SectionBuilder.text`."""
    blocks: list[tuple[int, str] | str] = []
    rows: list[list[str]] = []
    # A cell's paragraph break before its "|" (pandoc's tables) joins the row up again.
    for line in text.replace("\n|", "|").split("\n"):
        if line.rstrip().endswith("|"):
            rows.append([cell.strip() for cell in line.rstrip().rstrip("|").split("|")])
            continue
        if rows:
            blocks.append("\n" + markdown_table(rows) + "\n\n")
            rows = []
        heading = _MARKED.match(line)
        if heading:
            if content := line[heading.end() :].replace(_MARK, "").strip():
                blocks.append((int(heading.group(1)) + 1, content))
            continue
        line = line.replace(_MARK, "").rstrip()
        if not line.strip():
            continue
        if bullet := _BULLET.match(line):
            blocks.append(f"- {line[bullet.end() :]}\n")
        elif number := _NUMBERED.match(line):
            blocks.append(f"{number.group(1)}. {line[number.end() :]}\n")
        else:
            blocks.append(f"\n{line.strip()}\n\n")
    if rows:
        blocks.append("\n" + markdown_table(rows) + "\n\n")
    return blocks


def _dates(head: str) -> dict[str, date]:
    found = {}
    for key, year, month, day in _TIME.findall(head):
        try:
            if int(year) > 0:
                found[key] = date(int(year), int(month), int(day))
        except ValueError:
            continue
    return found
