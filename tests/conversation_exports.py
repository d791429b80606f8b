"""A generated ChatGPT export (`conversations.json`), shaped like the real one: each
conversation a `mapping` tree under a hidden system root, with an edited question starting a
branch in every third conversation, `current_node` on the active branch's last answer."""

from __future__ import annotations

import json
from typing import Any

TOPICS = ("watering", "pruning", "compost", "seed trays", "frost cover", "mulch")


def chatgpt_conversation(number: int, *, turns: int = 2) -> dict[str, Any]:
    base = 1_730_000_000.0 + number * 3600
    mapping: dict[str, Any] = {}

    def add(node_id: str, parent: str | None, role: str | None, text: str, t: float) -> None:
        message = None
        if role is not None:
            message = {
                "id": node_id,
                "author": {"role": role, "name": None, "metadata": {}},
                "create_time": t,
                "content": {"content_type": "text", "parts": [text]},
                "metadata": {"is_visually_hidden_from_conversation": role == "system"},
                "recipient": "all",
            }
        mapping[node_id] = {"id": node_id, "message": message, "parent": parent, "children": []}
        if parent is not None:
            mapping[parent]["children"].append(node_id)

    add(f"root-{number}", None, None, "", base)
    add(f"sys-{number}", f"root-{number}", "system", "", base)
    parent = f"sys-{number}"
    topic = TOPICS[number % len(TOPICS)]
    for turn in range(turns):
        question = f"Question {turn + 1} of conversation {number} about {topic}?"
        if number % 3 == 0 and turn == 0:  # an abandoned first wording, then the edit
            add(f"q{number}-{turn}-old", parent, "user", "An abandoned wording.", base + 1)
            add(f"a{number}-{turn}-old", f"q{number}-{turn}-old", "assistant", "Old.", base + 2)
        add(f"q{number}-{turn}", parent, "user", question, base + 10 * turn + 3)
        answer = f"Answer {turn + 1} on {topic} for conversation {number}."
        add(f"a{number}-{turn}", f"q{number}-{turn}", "assistant", answer, base + 10 * turn + 4)
        parent = f"a{number}-{turn}"
    return {
        "title": f"Garden notes {number}",
        "create_time": base,
        "update_time": base + 100,
        "mapping": mapping,
        "current_node": parent,
        "conversation_id": f"conv-{number:05d}",
        "id": f"conv-{number:05d}",
    }


def chatgpt_export(count: int, *, turns: int = 2) -> bytes:
    return json.dumps([chatgpt_conversation(n, turns=turns) for n in range(count)]).encode()
