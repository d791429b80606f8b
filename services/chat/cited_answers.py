"""The sources a user's stored answers cited, and their earlier versions', without their
text: what deciding which of them a reader may still be shown needs
(`use_cases/chat/withholding.py`). Both databases, one query each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.sql import SqlDb
from use_cases.chat.domain import CitedAnswer, Source

__all__ = ["read_cited_answers"]


def read_cited_answers(db: SqlDb, user_id: str, chat_id: str | None) -> list[CitedAnswer]:
    """The user's answers that cite a source (of `chat_id` only, when given), in chat and
    conversation order, then their earlier versions that do (`CitedAnswer.earlier`)."""
    one_chat = " AND m.chat_id = ?" if chat_id is not None else ""
    args = (user_id,) if chat_id is None else (user_id, chat_id)
    joined = f"JOIN chats c ON c.id = m.chat_id WHERE c.user_id = ?{one_chat}"
    with db.read() as conn:
        answers = conn.execute(
            "SELECT m.id, m.chat_id, m.sources FROM messages m "
            f"{joined} AND m.role = 'assistant' ORDER BY m.chat_id, m.seq",
            args,
        ).fetchall()
        versions = conn.execute(
            "SELECT v.id, m.chat_id, v.sources FROM message_versions v "
            f"JOIN messages m ON m.id = v.message_id {joined} ORDER BY m.chat_id, v.seq",
            args,
        ).fetchall()
    return [
        CitedAnswer(row["chat_id"], row["id"], tuple(map(_cited, sources)), earlier)
        for rows, earlier in ((answers, False), (versions, True))
        for row in rows
        if (sources := db.get_json(row["sources"]))
    ]


def _cited(data: Mapping[str, Any]) -> Source:
    """What withholding reads of a stored source: its kind, its title (a table lookup's names
    its tables) and its document's id, not its rows or versions (`Source.from_dict` reads
    those too: most of the time withholding took over a thousand cited answers)."""
    return Source(
        number=int(data.get("number") or 0),
        kind="table" if data.get("kind") == "table" else "document",
        title=str(data.get("title") or ""),
        source="",
        document_id=data.get("document_id"),
    )
