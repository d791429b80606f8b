"""The answer as shown: `Answer`, the can't-find answer, the cited sentences and the
**Sources** list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.offline import data
from services.offline.context import DEFAULT_CONTEXT, AnswerContext
from services.offline.score import Scored
from use_cases.chat.prompts import NOT_FOUND_ANSWER


@dataclass
class Answer:
    text: str
    confidence: float
    found: bool = True
    coverage: float = 1.0  # of the best sentence (documents only)
    evidence: float = 1.0  # of the best sentence (documents only): coverage and meaning
    from_table: bool = False  # the answer comes from a table lookup
    #: A table answer that only shows the one row the question named, nothing asked about it
    #: ("what happens after notify-service's last retry fails?"): the documents answer first.
    bare_row: bool = False


def not_found(confidence: float, context: AnswerContext = DEFAULT_CONTEXT) -> Answer:
    """The can't-find answer: `NOT_FOUND_ANSWER` and the context's clarifying question, with
    at most `ConfidenceTuning.not_found_cap` of confidence."""
    return Answer(
        f"{NOT_FOUND_ANSWER} {context.not_found_hint}",
        min(confidence, context.tuning.confidence.not_found_cap),
        found=False,
        coverage=0.0,
    )


#: An inline code span of Markdown.
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def _quoted(sentence: str) -> str:
    """A document sentence as the answer's Markdown quotes it. Passages arrive with every
    HTML tag opener escaped (`&lt;b>`: Markdown shows it as text, so it is inert); inside a
    code span Markdown shows characters literally, so there the escape would show as
    "&lt;" and the span gets its "<" back (code spans are inert already). A placeholder in
    prose ("/proc/<PID>/environ", "HEAD~<n>") is no markup: it is quoted as written, in a code
    span, so the answer holds the document's characters and stays inert."""
    spans = _CODE_SPAN.split(sentence)
    # re.split with the span's two groups: prose, ticks, code, prose, ticks, code, ...
    parts = []
    for k in range(0, len(spans), 3):
        parts.append(_PLACEHOLDER_RUN.sub(_placeholder_span, spans[k]))
        if k + 2 < len(spans):
            ticks, code = spans[k + 1], spans[k + 2]
            parts.append(f"{ticks}{code.replace('&lt;', '<')}{ticks}")
    return "".join(parts)


#: The run of text around an escaped "<...>" in prose, without the punctuation around it.
_PLACEHOLDER_RUN = re.compile(
    r"[^\s`(\[\"'“‘]*&lt;[^<>&\s`][^<>&\n`]{0,39}>[^\s`]*?(?=[.,;:!?)\]\"'”’]*(?:\s|$))"
)

#: The names of HTML's (and inline SVG's and MathML's) elements.
_HTML_ELEMENTS = data.words("html_elements")

#: An escaped tag opener and its name: "&lt;script", "&lt;/b", "&lt;!--".
_OPENER = re.compile(r"&lt;(/?)([A-Za-z][\w-]*|[!?])")


def _placeholder_span(run: re.Match[str]) -> str:
    """A run of prose holding escaped "<...>": in a code span as written when every "<" in it
    opens a placeholder ("<PID>", "<one directory>"), escaped as it is when one opens markup
    (an element of HTML, a closing tag, a comment or a declaration)."""
    text = run.group(0)
    for opener in _OPENER.finditer(text):
        closing, name = opener.groups()
        if closing or name in "!?" or name.casefold() in _HTML_ELEMENTS:
            return text
    return f"`{text.replace('&lt;', '<')}`"


def _with_citation(sentence: str, marker: str) -> str:
    sentence, fence, block = sentence.partition("\n```")
    sentence = _quoted(sentence.rstrip())
    if fence:  # the sentence is cited, then the block it announces follows as written
        if sentence.endswith((".", "!", "?", ":")):
            sentence = sentence[:-1]
        return f"{sentence} {marker}:{fence}{_as_written(block)}"
    if sentence.endswith((".", "!", "?")):
        return f"{sentence[:-1]} {marker}{sentence[-1]}"
    return f"{sentence} {marker}."


def _as_written(block: str) -> str:
    """A code block's text with the document's own characters: passages arrive with every
    HTML tag opener escaped (`&lt;b>`), and inside a fenced block Markdown shows characters
    as they are (nothing in it is markup), so the block gets its "<" back ("/proc/<PID>")."""
    return block.replace("&lt;", "<")


def _joined(sentences: list[str]) -> str:
    """The answer's sentences in one paragraph; a code block ends its line, and what comes
    after it starts a paragraph of its own."""
    text = ""
    for sentence in sentences:
        text += ("\n\n" if text.endswith("```") else " " if text else "") + sentence
    return text


#: A PDF page's own heading ("Page 12", "Page iv"; `loaders.pdf`): where the text stands,
#: which a citation shows and a sentence's meaning has nothing of.
_PAGE_HEADING = re.compile(r"(?:^| > )Page \S+$")


def meaning_label(hit: dict[str, Any]) -> str:
    """The label a passage's sentences are embedded with: its section label without a page."""
    return _section_label({**hit, "section": _PAGE_HEADING.sub("", str(hit.get("section") or ""))})


def heading_parts(hit: dict[str, Any]) -> list[str]:
    """A passage's section path, outermost heading first ("A > B" -> ["A", "B"])."""
    return [p.strip() for p in str(hit.get("section") or "").split(" > ") if p.strip()]


def _section_label(hit: dict[str, Any]) -> str:
    title = str(hit.get("title") or "Untitled")
    parts = heading_parts(hit)
    if parts and parts[0].casefold() == title.casefold():
        parts = parts[1:]
    return ", ".join([title, " > ".join(parts)] if parts else [title])


#: A section heading that is one name (a setting, an option, a role, a command, a file):
#: "syntax_highlight", "--report", ":acronym:", "\\oldstylenums", "latex209.cfg".
_MARKUP_NAME = re.compile(r"(?:--?|:|\\)[A-Za-z][\w-]*:?")


#: The sections of a Unix manual page (man-pages(7)), headed in capitals: parts of a page,
#: not names of what it describes.
_MANUAL_PAGE_PARTS = data.words("manual_page_parts")


#: A section heading that is one hyphenated name capitalised in every part: an HTTP header
#: ("X-Frame-Options"), a directive ("Pull-Quote"), a named technique.
_CAPITALISED_NAME = re.compile(r"[A-Z][A-Za-z0-9]*(?:-[A-Z][A-Za-z0-9]*)+")


#: A section heading that is one keyword argument with its value: a mode or a setting's
#: entry, "capture=\"fd\"", "atomic=True".
_ASSIGNMENT = re.compile(r"[A-Za-z_]\w*\s?=\s?(?:\"[^\"\s]*\"|'[^'\s]*'|[\w.-]+)")


#: A remark in brackets after a heading's name: " (default)", " (deprecated)".
_REMARK = re.compile(r"\s+\([^()]*\)$")


#: Names a heading lists for one entry: "-l, --line-length", "--fast / --safe".
_NAME_LIST = re.compile(r",\s*|\s+/\s+")


def _section_names(hit: dict[str, Any]) -> list[str]:
    """The names a passage's own section is about, when its heading is one code-like name (an
    option, a call, "X-Frame-Options"), a keyword argument with its value (a mode's entry:
    `capture="fd"`, a remark after it left out) or a list of options (a command-line manual's
    "-l, --line-length"): a manual's entry for a setting or a command, whose sentences describe
    the thing without naming it ("Use this to avoid the 'Pygments not found' warning" under
    `syntax_highlight`; "The default is 88." under "-l, --line-length")."""
    parts = heading_parts(hit)
    if len(parts) < 2:  # a document's only heading is its title, not an entry
        return []
    assigned = _REMARK.sub("", parts[-1]).strip("`*")  # 'capture="sys" (default)'
    if _ASSIGNMENT.fullmatch(assigned):
        return [assigned]
    heading = parts[-1].strip("`'\"*")
    if not heading:
        return []
    if not any(c.isspace() for c in heading):
        if heading in _MANUAL_PAGE_PARTS:
            return []  # a manual page's "DESCRIPTION": a part of every page, not a name
        named = any(n.fullmatch(heading) for n in (_MARKUP_NAME, CODE_NAME, _CAPITALISED_NAME))
        return [heading] if named else []
    names = [name.strip("`") for name in _NAME_LIST.split(heading)]
    if len(names) > 1 and all(_MARKUP_NAME.fullmatch(n) and n.startswith("-") for n in names):
        return names
    return []


def _named(sentence: str, hit: dict[str, Any], said: str) -> str:
    """The sentence led by the names of its passage's section (`_section_names`) when neither
    the question nor the answer says one of them: the name is what a reader types next."""
    names = _section_names(hit)
    if not names or any(name.casefold() in said.casefold() for name in names):
        return sentence
    return f"{', '.join(f'`{name}`' for name in names)}: {sentence}"


def _source_line(hit: dict[str, Any]) -> str:
    """`[n] Title, Section (date)`, with the version when there is one: "(2025-09-15; current
    version, supersedes Password Policy of 2023-06-12)". An undated document's line has no
    brackets at all (most manuals carry no date: "(undated)" on every line says nothing)."""
    details = "; ".join(str(d) for d in (hit.get("updated_at"), hit.get("version_note")) if d)
    return f"[{hit['number']}] {_section_label(hit)}" + (f" ({details})" if details else "")


def _source_lines(hits: list[dict[str, Any]]) -> list[str]:
    """The Sources list; a document's version is named once, on its first line."""
    lines, named = [], set()
    for hit in hits:
        if hit.get("document_id") in named:
            hit = {**hit, "version_note": ""}
        named.add(hit.get("document_id"))
        lines.append(_source_line(hit))
    return lines


def is_question(text: str) -> bool:
    """A sentence that asks (a FAQ's question, a heading kept in the text): it never answers
    itself; the sentences after it do."""
    return text.rstrip(" )]*_`'\"”’").endswith("?")


#: A name of code as people type it: with "_" or "." inside ("isolation_level",
#: "logging.DEBUG"), three letters or more with digits ("FTS5", "sqlite3"; "py2" and "v2"
#: are people's shorthand), a call ("ROW_NUMBER()") or a word
#: in capitals ("PARTITION"). Hyphenated words are left out: people hyphenate English
#: ("auto-abort", "non-urgent") and write a documented name in other ways.
CODE_NAME = re.compile(
    r"(?<![\w.-])(?:[A-Za-z]\w*_\w+|[A-Za-z]\w+(?:\.[A-Za-z]\w*)+|[A-Za-z]{3,}\d+[A-Za-z0-9]*"
    r"|[A-Za-z_]\w*(?=\(\))|[A-Z]{4,})(?![\w-])"
)


def cited_body(
    question: str,
    chosen: list[Scored],
    kept: list[dict[str, Any]],
    replaced: dict[Any, list[dict[str, Any]]],
    conflict: tuple[Any, Scored, str] | None,
    see_also: Sequence[Sequence[Scored]] = (),
) -> str:
    """The answer's text, each sentence with its [n]; then, apart, the sentences of other
    places ("See also: ... [2]."), never spliced into the answer's own; then the **Sources**
    it cites."""
    sentences = []
    cited: list[dict[str, Any]] = []
    previous = [None, *(c.unit for c in chosen)]
    shown = [c.unit.shown_after(p) for p, c in zip(previous, chosen, strict=False)]
    said = " ".join([question, *shown])
    for item, text in zip(chosen, shown, strict=True):
        hit = kept[item.unit.hit_index]
        sentence = _with_citation(text, f"[{hit['number']}]")
        if hit not in cited:
            sentence = _named(sentence, hit, said)
            cited.append(hit)
        sentences.append(sentence)
    superseded = _superseded_note(cited, replaced)
    if superseded is not None:
        sentences.append(superseded)
    if conflict is not None:  # said first: which value holds is the first thing to know
        sentences.insert(0, conflict[2])
    body = _joined(sentences)
    for place in see_also:
        hit = kept[place[0].unit.hit_index]
        marker = f"[{hit['number']}]"
        quoted = [_with_citation(c.unit.shown, marker) for c in place]
        body += f"\n\nSee also: {_joined(quoted)}"
        if hit not in cited:
            cited.append(hit)
    sources = "\n".join(_source_lines(sorted(cited, key=lambda h: h["number"])))
    return f"{body}\n\n**Sources**\n{sources}"


def _superseded_note(
    cited: list[dict[str, Any]], replaced: dict[Any, list[dict[str, Any]]]
) -> str | None:
    """The first cited document with older versions: which version the answer follows."""
    for hit in cited:
        older = replaced.get(hit.get("document_id"))
        if older:
            dates = sorted({str(h.get("updated_at") or "undated") for h in older})
            return _with_citation(
                f"This follows the current version of {hit.get('title')} "
                f"({hit.get('updated_at') or 'undated'}); the older "
                f"{'version' if len(dates) == 1 else 'versions'} ({', '.join(dates)}) "
                f"{'is' if len(dates) == 1 else 'are'} superseded.",
                f"[{hit['number']}]",
            )
    return None
