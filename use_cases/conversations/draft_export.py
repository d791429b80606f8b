"""A draft version as Markdown (headings and lists) or JSON, for download."""

from __future__ import annotations

import json

from use_cases.conversations.draft_domain import DraftVersion


def render_markdown(version: DraftVersion) -> str:
    """The draft as a Markdown document: the title as the heading, then a section per part
    (an empty part says "None yet."), then where it stands (version, author, note)."""
    draft = version.content
    lines = [f"# {_line(draft.title)}", ""]
    if draft.description.strip():
        lines += [draft.description.strip(), ""]
    lines += ["## Goals", "", *_bullets(draft.goals), ""]
    lines += ["## Milestones", ""]
    milestones = []
    for number, milestone in enumerate(draft.milestones, start=1):
        due = f" (due {milestone.due.isoformat()})" if milestone.due else ""
        milestones.append(f"{number}. {_line(milestone.title)}{due}")
        if milestone.description:
            milestones.append(f"   {_line(milestone.description)}")
    lines += [*(milestones or ["None yet."]), ""]
    lines += ["## Open questions", "", *_bullets(draft.open_questions), ""]
    sources = []
    for source in draft.sources:
        origin = f"message {source.message_id}" if source.message_id else f"{source.document}"
        quote = f': "{_line(source.quote)}"' if source.quote else ""
        sources.append(f"- {_line(origin)}{quote}")
    lines += ["## Sources", "", *(sources or ["None yet."]), ""]
    author = f"{version.author} ({version.model})" if version.model else version.author
    lines += [
        "---",
        "",
        f"Version {version.number}, {version.created_at.date().isoformat()}, by {author}: "
        f"{_line(version.note)}",
        "",
    ]
    return "\n".join(lines)


def render_json(version: DraftVersion) -> str:
    """The draft's content with its version's number, author, note and time."""
    body = {
        "version": version.number,
        "author": version.author,
        "model": version.model,
        "note": version.note,
        "created_at": version.created_at.isoformat(),
        "draft": version.content.model_dump(mode="json"),
    }
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


def _bullets(items: list[str]) -> list[str]:
    return [f"- {_line(item)}" for item in items] or ["None yet."]


def _line(text: str) -> str:
    """One line of Markdown: line breaks flattened, so an item cannot start a heading."""
    return " ".join(text.split())
