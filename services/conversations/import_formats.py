"""Readers of the formats conversations come in: share pages (ChatGPT, Claude, Grok), export
files (ChatGPT's and Claude's `conversations.json`, or the export's ZIP) and Slack threads.

Share pages are read by what they embed, not by their host, so a page served from elsewhere
(a saved copy, a test server) reads the same:

* the page is read by the standard library's HTML tokenizer (`html.parser`), fed the whole
  page once and never closed, so each construct is scanned once: the work is linear in the
  page's bytes whatever it holds (an unclosed `<script>`, tag or comment takes the rest of the
  page, as in a browser, and is not read further; `close()` would rescan it from each `<`,
  quadratic on Python before 3.11.13). Its CPU time is bounded too: past `cpu_s` seconds
  (PARSE_CPU_SECONDS) the page is refused with `InputTooCostly` (413). The caller runs it on
  a worker thread; the tokenizer is Python code that lets the event loop run between steps;
* every complete `<script>` is a candidate: a JSON script (`__NEXT_DATA__`, `application/json`) is
  parsed whole; the string arguments of `streamController.enqueue("...")` (React Router /
  Remix streaming, a "turbo-stream" flat array whose objects name their keys and values by
  index) are decoded; the strings of `self.__next_f.push([1, "..."])` (Next.js server
  components) are joined and each `id:JSON` line is parsed;
* the decoded values are walked (bounded) for a known shape: ChatGPT's `mapping` with
  `current_node` or `linear_conversation`, Claude's `chat_messages`, Grok's `responses`
  with `sender`/`message`;
* no embedded data at all is `unsupported_page`; embedded data without a conversation (an
  expired share's page) is `no_conversation`.

ChatGPT conversations are trees (an edited question starts a branch): the active branch is
the path from `current_node` up the `parent` links. System, tool and hidden messages, a
message to a tool (`recipient` other than `all`) and messages without text are dropped.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from services.budgets import (
    BUDGET,
    BoundedReader,
    loads_bounded,
    open_zip,
    open_zip_member,
    stream_json_items,
)
from use_cases.chat.domain import MessageRole
from use_cases.conversations.import_domain import (
    ImportedConversation,
    ImportedMessage,
    InvalidExport,
    NoConversation,
    UnsupportedPage,
)
from use_cases.shared.errors import InputTooCostly, InvalidRequest

__all__ = ["ConversationFormatReader", "read_turbo_stream"]

#: Values visited when walking a page's embedded data for a conversation (a guard against
#: pathological pages; real share pages hold a few thousand).
MAX_WALK_NODES = 200_000

#: Steps (tokens, embedded values, values walked) between two looks at the CPU clock.
_CHECK_EVERY = 1024
_JS_STRING = r'"((?:[^"\\]|\\.)*)"'
_ENQUEUE = re.compile(r"\.enqueue\(\s*" + _JS_STRING + r"\s*\)", re.DOTALL)
_NEXT_F = re.compile(r"__next_f\.push\(\s*\[\s*1\s*,\s*" + _JS_STRING + r"\s*\]\s*\)", re.DOTALL)
_RSC_LINE = re.compile(r"^[0-9a-zA-Z]+:(?=[\[{\"])")
_JSON_TYPES = ("application/json", "application/ld+json")


class ConversationFormatReader:
    """The `ConversationFormats` port; `cpu_s`: the CPU seconds reading one share page may
    take (module docstring)."""

    def __init__(self, *, cpu_s: float = BUDGET.parse_cpu_s) -> None:
        self._cpu_s = cpu_s

    # -- share pages -----------------------------------------------------------------------

    def parse_page(self, url: str, html: str) -> ImportedConversation:
        budget = _CpuBudget(self._cpu_s)
        embedded = list(_embedded_values(html, budget))
        if not embedded:
            raise UnsupportedPage(
                "The page embeds no conversation data this server can read (a ChatGPT, "
                "Claude or Grok share page is expected)."
            )
        for value in embedded:
            try:
                found = _find_conversation(value, url, budget)
            except (AttributeError, TypeError, ValueError):  # a shape with fields of odd types
                continue
            if found is not None and found.messages:
                return found if found.external_id else replace(found, external_id=url)
        raise NoConversation(
            "The page holds no shared conversation with messages (the link may have been "
            "deleted or made private)."
        )

    # -- export files ----------------------------------------------------------------------

    def parse_export(self, filename: str, data: bytes) -> list[ImportedConversation]:
        conversations = []
        with _export_stream(filename, data) as stream:
            try:
                for number, item in enumerate(_export_items(stream, filename), start=1):
                    conversation = _export_conversation(item, number, filename)
                    if conversation.messages:
                        conversations.append(conversation)
            except ValueError as exc:  # not JSON (stream_json_items names the file)
                raise InvalidExport(str(exc)) from None
            except RecursionError:
                raise InvalidExport(f"{filename} is nested too deeply to be an export.") from None
        if not conversations:
            raise NoConversation(f"{filename} holds no conversation with messages.")
        return conversations

    # -- Slack -----------------------------------------------------------------------------

    def parse_slack(self, payload: Mapping[str, Any]) -> ImportedConversation:
        channel = payload.get("channel")
        messages = payload.get("messages")
        if not isinstance(channel, str) or not channel.strip():
            raise InvalidRequest("A Slack thread needs its `channel` id.")
        if not isinstance(messages, list) or not messages:
            raise InvalidRequest("A Slack thread needs its `messages` (conversations.replies).")
        kept: list[ImportedMessage] = []
        thread = None
        for message in messages:
            if not isinstance(message, dict):
                raise InvalidRequest("Each Slack message must be an object.")
            ts = message.get("ts")
            thread = thread or message.get("thread_ts") or ts
            text = str(message.get("text") or "").strip()
            if not text or message.get("subtype") in {"channel_join", "thread_broadcast"}:
                continue
            role: MessageRole = "assistant" if message.get("bot_id") else "user"
            kept.append(ImportedMessage(role, text, _time(ts)))
        if not kept or not thread:
            raise NoConversation("The Slack thread has no message with text.")
        permalink = payload.get("permalink")
        return ImportedConversation(
            source="slack",
            external_id=f"{channel.strip()}:{thread}",
            title=str(payload.get("title") or ""),
            messages=tuple(kept),
            source_url=permalink if isinstance(permalink, str) and permalink else None,
            created_at=kept[0].created_at,
        )


# -- embedded page data ---------------------------------------------------------------------------


class _CpuBudget:
    """The CPU time (of the calling thread) one page's read may take; `tick()` at each step
    looks at the clock every `_CHECK_EVERY` steps and refuses the page past the budget."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._until = time.thread_time() + seconds
        self._steps = 0

    def tick(self) -> None:
        self._steps += 1
        if self._steps % _CHECK_EVERY == 0 and time.thread_time() > self._until:
            raise InputTooCostly(
                f"Reading the share page took more than {self._seconds:g} s of CPU time "
                "(PARSE_CPU_SECONDS): refused."
            )


class _Scripts(HTMLParser):
    """The page's complete `<script>` elements, as (attributes, text), in page order: the
    stdlib's tokenizer, fed the page once and never closed (module docstring)."""

    def __init__(self, budget: _CpuBudget) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[dict[str, str], str]] = []
        self._budget = budget
        self._open: dict[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._budget.tick()
        if tag == "script":
            self._open = {name: (value or "") for name, value in attrs}
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        self._budget.tick()
        if tag == "script" and self._open is not None:
            self.found.append((self._open, "".join(self._text)))
            self._open = None

    def handle_data(self, data: str) -> None:
        self._budget.tick()
        if self._open is not None:
            self._text.append(data)

    def handle_comment(self, data: str) -> None:
        self._budget.tick()

    def handle_decl(self, decl: str) -> None:
        self._budget.tick()

    def handle_pi(self, data: str) -> None:
        self._budget.tick()

    def unknown_decl(self, data: str) -> None:
        self._budget.tick()


def _page_scripts(html: str, budget: _CpuBudget) -> list[tuple[dict[str, str], str]]:
    """The page's complete scripts (`_Scripts`); what is left unclosed at the end is not
    read (`close()` is not called, see the module docstring)."""
    scripts = _Scripts(budget)
    scripts.feed(html)
    return scripts.found


def _is_json_script(attributes: Mapping[str, str]) -> bool:
    media_type = attributes.get("type", "").split(";", 1)[0].strip().lower()
    return attributes.get("id", "").lower() == "__next_data__" or media_type in _JSON_TYPES


def _embedded_values(html: str, budget: _CpuBudget) -> Iterator[Any]:
    """Every JSON value the page's scripts embed (module docstring)."""
    flight: list[str] = []
    for attributes, body in _page_scripts(html, budget):
        budget.tick()
        if _is_json_script(attributes):
            value = _json(body.strip())
            if value is not None:
                yield value
            continue
        for literal in _ENQUEUE.findall(body):
            value = _json(_js_string(literal))
            if isinstance(value, list):
                try:
                    yield read_turbo_stream(value)
                except RecursionError:  # nested past any real page
                    continue
        flight.extend(_js_string(literal) or "" for literal in _NEXT_F.findall(body))
    for line in "".join(flight).split("\n"):
        match = _RSC_LINE.match(line)
        if match:
            value = _json(line[match.end() :])
            if value is not None:
                yield value


def _js_string(literal: str) -> str | None:
    """A JavaScript string literal's value (the same escapes as JSON's, for these pages)."""
    try:
        value = json.loads(f'"{literal}"')
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, str) else None


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return loads_bounded(text, "The page's embedded data")
    except (json.JSONDecodeError, InputTooCostly):  # not JSON, or nested past any real page
        return None


def read_turbo_stream(flat: list[Any]) -> Any:
    """The value a turbo-stream flat array encodes: its first entry, where an object is
    `{"_K": V}` (K the index of the key's string, V the index of the value), an array is a
    list of indexes, a negative index a special value (undefined, null, NaN: None here) and
    anything else is itself. Shared values are decoded once; cycles end as None."""
    done: dict[int, Any] = {}
    visiting: set[int] = set()

    def value(index: Any) -> Any:
        if not isinstance(index, int) or isinstance(index, bool):
            return index
        if index < 0 or index >= len(flat) or index in visiting:
            return None
        if index in done:
            return done[index]
        visiting.add(index)
        raw = flat[index]
        if isinstance(raw, dict):
            decoded: Any = {}
            for key, target in raw.items():
                name = flat[int(key[1:])] if key[1:].isdigit() and int(key[1:]) < len(flat) else key
                decoded[str(name)] = value(target)
        elif isinstance(raw, list):
            if raw and isinstance(raw[0], str) and raw[0] in {"D", "P", "Y", "R", "E"}:
                decoded = None  # a date, promise or other typed value: not needed here
            else:
                decoded = [value(item) for item in raw]
        else:
            decoded = raw
        visiting.discard(index)
        done[index] = decoded
        return decoded

    return value(0) if flat else None


def _find_conversation(root: Any, url: str, budget: _CpuBudget) -> ImportedConversation | None:
    """The first known conversation shape in `root` (breadth first, bounded)."""
    queue: deque[Any] = deque([root])
    seen = 0
    while queue and seen < MAX_WALK_NODES:
        node = queue.popleft()
        seen += 1
        budget.tick()
        if isinstance(node, dict):
            if isinstance(node.get("mapping"), dict) or isinstance(
                node.get("linear_conversation"), list
            ):
                return _chatgpt(node, "chatgpt", url)
            if isinstance(node.get("chat_messages"), list):
                return _claude(node, "claude", url)
            responses = node.get("responses")
            if isinstance(responses, list) and any(_is_grok_response(r) for r in responses):
                return _grok(node, url)
            queue.extend(node.values())
        elif isinstance(node, list):
            queue.extend(node)
    return None


# -- ChatGPT ------------------------------------------------------------------------------------


def _chatgpt(data: Mapping[str, Any], source: str, url: str | None) -> ImportedConversation:
    nodes = _chatgpt_branch(data)
    messages = [m for m in (_chatgpt_message(node) for node in nodes) if m is not None]
    external = data.get("conversation_id") or data.get("id") or _share_id(url)
    return ImportedConversation(
        source=source,
        external_id=str(external or ""),
        title=str(data.get("title") or ""),
        messages=tuple(messages),
        source_url=url,
        created_at=_time(data.get("create_time")),
    )


def _chatgpt_branch(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The nodes of the active branch, oldest first."""
    mapping = data.get("mapping")
    if isinstance(mapping, dict) and mapping:
        current = data.get("current_node")
        if current not in mapping:
            current = _last_leaf(mapping)
        branch: list[Mapping[str, Any]] = []
        seen: set[str] = set()
        while isinstance(current, str) and current in mapping and current not in seen:
            seen.add(current)
            node = mapping[current]
            if not isinstance(node, dict):
                break
            branch.append(node)
            current = node.get("parent")
        branch.reverse()
        return branch
    linear = data.get("linear_conversation")
    return [n for n in linear if isinstance(n, dict)] if isinstance(linear, list) else []


def _last_leaf(mapping: Mapping[str, Any]) -> str | None:
    """Without `current_node`: from the root, always the last child (the latest edit)."""
    roots = [k for k, n in mapping.items() if isinstance(n, dict) and not n.get("parent")]
    current = roots[0] if roots else None
    if current is None:  # no root: nothing to walk (as the walk below would find)
        return None
    for _ in range(len(mapping)):
        children = (mapping.get(current) or {}).get("children") or []
        children = [c for c in children if c in mapping]
        if not children:
            break
        current = children[-1]
    return current


def _chatgpt_message(node: Mapping[str, Any]) -> ImportedMessage | None:
    message = node.get("message")
    if not isinstance(message, dict):
        return None
    role = (message.get("author") or {}).get("role")
    metadata = message.get("metadata") or {}
    if role not in ("user", "assistant") or metadata.get("is_visually_hidden_from_conversation"):
        return None
    if message.get("recipient", "all") != "all":
        return None  # a call to a tool (browsing, code), not text for the reader
    content = message.get("content") or {}
    if content.get("content_type", "text") not in ("text", "multimodal_text"):
        return None
    parts = []
    for part in content.get("parts") or []:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
    text = "\n".join(p for p in parts if p.strip()).strip()
    if not text:
        return None
    return ImportedMessage(role, text, _time(message.get("create_time")))


# -- Claude ---------------------------------------------------------------------------------------


def _claude(data: Mapping[str, Any], source: str, url: str | None) -> ImportedConversation:
    messages = []
    for item in data.get("chat_messages") or []:
        if not isinstance(item, dict):
            continue
        role = _CLAUDE_ROLES.get(str(item.get("sender") or item.get("role") or "").lower())
        text = _claude_text(item)
        if role is not None and text:
            messages.append(ImportedMessage(role, text, _time(item.get("created_at"))))
    external = data.get("uuid") or data.get("id") or _share_id(url)
    title = data.get("name") or data.get("snapshot_name") or data.get("title") or ""
    return ImportedConversation(
        source=source,
        external_id=str(external or ""),
        title=str(title),
        messages=tuple(messages),
        source_url=url,
        created_at=_time(data.get("created_at")),
    )


_CLAUDE_ROLES: dict[str, MessageRole] = {"human": "user", "user": "user", "assistant": "assistant"}


def _claude_text(item: Mapping[str, Any]) -> str:
    blocks = item.get("content")
    if isinstance(blocks, list):
        texts = [
            b["text"]
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
        if any(t.strip() for t in texts):
            return "\n\n".join(t for t in texts if t.strip()).strip()
    return str(item.get("text") or "").strip()


# -- Grok ---------------------------------------------------------------------------------------


def _is_grok_response(item: Any) -> bool:
    return isinstance(item, dict) and "sender" in item and "message" in item


def _grok(data: Mapping[str, Any], url: str) -> ImportedConversation:
    shared = data.get("conversation")
    conversation: Mapping[str, Any] = shared if isinstance(shared, dict) else {}
    messages = []
    for item in data.get("responses") or []:
        if not _is_grok_response(item) or item.get("partial"):
            continue
        sender = str(item.get("sender") or "").lower()
        sender_role: MessageRole = "user" if sender in ("human", "user") else "assistant"
        text = str(item.get("message") or "").strip()
        if text:
            messages.append(ImportedMessage(sender_role, text, _time(item.get("createTime"))))
    external = (
        conversation.get("conversationId")
        or data.get("conversationId")
        or data.get("shareLinkId")
        or _share_id(url)
    )
    return ImportedConversation(
        source="grok",
        external_id=str(external or ""),
        title=str(conversation.get("title") or data.get("title") or ""),
        messages=tuple(messages),
        source_url=url,
        created_at=_time(conversation.get("createTime")),
    )


# -- shared --------------------------------------------------------------------------------------


def _share_id(url: str | None) -> str | None:
    if not url:
        return None
    segments = [s for s in urlsplit(url).path.split("/") if s]
    return segments[-1] if segments else None


def _time(value: Any) -> datetime | None:
    """Epoch seconds (a number or numeric text, as ChatGPT and Slack give them) or ISO-8601
    text (Claude, Grok); None for anything else."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if re.fullmatch(r"\d+(\.\d+)?", text):
                return datetime.fromtimestamp(float(text), UTC)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


@contextmanager
def _export_stream(filename: str, data: bytes) -> Iterator[BoundedReader]:
    """The `conversations.json` of an export as a bounded stream (services/budgets.py): the
    file itself, or the one in its ZIP, inflated as it is read."""
    if not data.startswith(b"PK"):
        yield BoundedReader(io.BytesIO(data), len(data), filename, item_limit=BUDGET.max_json_item)
        return
    with open_zip(data, filename) as archive:
        members = [
            info
            for info in archive.infolist()
            if info.filename.rsplit("/", 1)[-1] == "conversations.json"
        ]
        if not members:
            raise InvalidExport("The ZIP holds no conversations.json.")
        member = min(members, key=lambda info: info.filename.count("/"))
        with open_zip_member(archive, member) as stream:
            yield stream


def _export_items(stream: BoundedReader, filename: str) -> Iterator[Any]:
    """The conversations of an export: a list, `{"conversations": [...]}` or one object."""
    document = stream_json_items(stream, filename)
    if document.array:
        yield from document.items
        return
    for value in document.items:
        if isinstance(value, dict):
            value = value.get("conversations", [value])
        if not isinstance(value, list):
            raise InvalidExport(f"{filename} is not a list of conversations.")
        yield from value


def _export_conversation(item: Any, number: int, filename: str) -> ImportedConversation:
    if not isinstance(item, dict):
        raise InvalidExport(f"Conversation {number} of {filename} is not an object.")
    try:
        if isinstance(item.get("mapping"), dict):
            conversation = _chatgpt(item, "chatgpt-export", None)
        elif isinstance(item.get("chat_messages"), list):
            conversation = _claude(item, "claude-export", None)
        else:
            raise InvalidExport(
                f"Conversation {number} of {filename} is neither ChatGPT's (`mapping`) "
                "nor Claude's (`chat_messages`)."
            )
    except (AttributeError, TypeError, ValueError):  # a field of an unexpected type
        raise InvalidExport(
            f"Conversation {number} of {filename} is malformed (a field of the wrong type)."
        ) from None
    if not conversation.external_id:
        raise InvalidExport(f"Conversation {number} of {filename} has no id.")
    return conversation
