"""System prompts per prompt type: numbered versions, the active one, and the default.

Rules:
- The prompt types are a registry (`PromptTypes`): `chat` and `advice`, each with its default prompt
  (the built-in one, or the SYSTEM_PROMPT setting). Any other type is `NotFound` (404).
- Admins only, reads included: a prompt can hold what an organisation would rather not show
  its users. Chat turns read the prompt in force through `current`, which takes no caller.
- A new version's text is stripped of surrounding whitespace and must hold 1 to
  `MAX_PROMPT_CHARS` (20,000) characters and no NUL character; otherwise `InvalidRequest`
  and nothing is written. It gets the next number and is active at once.
- A version may be a template: its text may use `{{variables}}` (`use_cases/prompts/templates.py`).
  The service fills the built-in ones (`today`) whenever it uses the prompt in force, at chat
  and advice time (`instructions`); a version that uses any other variable can be stored only
  as a draft and tried (the playground, evaluation runs with their cases' variables): creating
  it active, or activating it, is `InvalidRequest` (422) naming the variables the service cannot
  fill, and nothing is written. (A SYSTEM_PROMPT setting is not checked: a variable other than
  a built-in one is left in it as written.)
- `create(..., activate=False)` stores a draft: the next number, not active, the prompt in
  force unchanged.
- A text identical to the active version's is no change: nothing is stored or audited, and
  the active version comes back with `changed` False. The default's own text does make a
  version: that pins the default against later upgrades of the built-in prompt.
- Activating the active version, or resetting while the default is in force, changes
  nothing. Resetting makes the default active again; the versions are kept.
- Every change is audited once it succeeded: `prompt.create`, `prompt.activate`,
  `prompt.reset`, target `prompt:TYPE`, `before`/`after` `{"version": N | "default"}` (the
  version in force; with the new text's length for a created version, and `"draft": N`
  for a draft, whose `after` version is the unchanged one in force). The texts themselves
  stay in the store.
- A change takes effect on the next chat turn in every server process: turns read the
  prompt in force from the store each time; nothing caches it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from use_cases.access.audit import (
    MAX_PAGE,
    PROMPT_ACTIVATE,
    PROMPT_CREATE,
    PROMPT_RESET,
    RecordAudit,
)
from use_cases.access.domain import Caller, require_admin
from use_cases.prompts.domain import EffectivePrompt, PromptChange, PromptTypes, PromptVersionPage
from use_cases.prompts.ports import PromptStore
from use_cases.prompts.templates import (
    BUILTIN_VARIABLES,
    builtin_variables,
    fill_known,
    required_variables,
)
from use_cases.shared.clock import Clock, utc
from use_cases.shared.errors import InvalidRequest, NotFound

MAX_PROMPT_CHARS = 20_000


@dataclass(frozen=True)
class PromptWrite:
    """The prompt in force after a write, and whether the write changed anything."""

    prompt: EffectivePrompt
    changed: bool


def clean_prompt_text(text: str) -> str:
    """The text to store, or `InvalidRequest` saying what is wrong with it."""
    clean = text.strip()
    if not clean:
        raise InvalidRequest("The prompt text is empty; send the system prompt in `text`.")
    if len(clean) > MAX_PROMPT_CHARS:
        raise InvalidRequest(
            f"The prompt text is {len(clean):,} characters long; the limit is {MAX_PROMPT_CHARS:,}."
        )
    if "\x00" in clean:
        raise InvalidRequest("The prompt text contains a NUL character.")
    return clean


class ManagePrompts:
    """Shows, versions, activates and resets the system prompts (see the module rules)."""

    def __init__(
        self, types: PromptTypes, store: PromptStore, audit: RecordAudit, clock: Clock
    ) -> None:
        self._types = types
        self._store = store
        self._audit = audit
        self._clock = clock

    @property
    def types(self) -> tuple[str, ...]:
        return self._types.names

    def current(self, prompt_type: str) -> EffectivePrompt:
        """The prompt in force (synchronous: chat turns call it from a worker thread)."""
        default = self._types.default(prompt_type)
        active = self._store.active_version(prompt_type)
        if active is not None:
            return EffectivePrompt.of_version(active)
        return EffectivePrompt.of_default(prompt_type, default)

    def instructions(self, prompt_type: str) -> str:
        """The text of the prompt in force with its built-in variables filled: what a chat or
        advice turn is sent (synchronous, read at the start of each turn)."""
        return fill_known(self.current(prompt_type).text, builtin_variables(self._clock.today()))

    def template(self, prompt_type: str, version: int | None) -> EffectivePrompt:
        """A stored version (a draft or not), or the prompt in force when `version` is None;
        `NotFound` for an unknown type or version (synchronous)."""
        self._types.require(prompt_type)
        if version is None:
            return self.current(prompt_type)
        found = self._store.get_version(prompt_type, version)
        if found is None:
            raise NotFound(f"The {prompt_type} prompt has no version {version}.")
        active = self._store.active_version(prompt_type)
        return EffectivePrompt.of_version(
            found, active=active is not None and active.version == version
        )

    async def show(self, caller: Caller, prompt_type: str) -> EffectivePrompt:
        require_admin(caller, "Reading the system prompt")
        return await asyncio.to_thread(self.current, prompt_type)

    async def default(self, caller: Caller, prompt_type: str) -> EffectivePrompt:
        require_admin(caller, "Reading the system prompt")
        default = self._types.default(prompt_type)
        active = await asyncio.to_thread(self._store.active_version, prompt_type)
        return EffectivePrompt.of_default(prompt_type, default, active=active is None)

    async def versions(
        self, caller: Caller, prompt_type: str, *, limit: int = 50, offset: int = 0
    ) -> PromptVersionPage:
        require_admin(caller, "Reading the system prompt")
        self._types.require(prompt_type)
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}.")
        if offset < 0:
            raise InvalidRequest("offset must not be negative.")

        def read() -> PromptVersionPage:
            versions, total = self._store.list_versions(prompt_type, limit=limit, offset=offset)
            active = self._store.active_version(prompt_type)
            return PromptVersionPage(
                tuple(versions), active.version if active else None, total, limit, offset
            )

        return await asyncio.to_thread(read)

    async def create(
        self, caller: Caller, prompt_type: str, text: str, *, activate: bool = True
    ) -> PromptWrite:
        """A new version, active at once, or a draft when `activate` is False."""
        require_admin(caller, "Changing the system prompt")
        self._types.require(prompt_type)
        clean = clean_prompt_text(text)
        if activate:
            _require_fillable(prompt_type, clean, "make it the prompt in force")
        return await asyncio.to_thread(self._create, caller, prompt_type, clean, activate)

    def _create(self, caller: Caller, prompt_type: str, text: str, activate: bool) -> PromptWrite:
        active = self._store.active_version(prompt_type)
        if active is not None and active.text == text:
            return PromptWrite(EffectivePrompt.of_version(active), changed=False)
        change = self._store.create_version(
            prompt_type, text, caller.user_id, utc(self._clock.now()), activate=activate
        )
        assert change.after is not None
        if activate:
            self._record(
                caller,
                PROMPT_CREATE,
                prompt_type,
                change,
                after_extra={"chars": len(change.after.text)},
            )
        else:
            self._audit.record(
                caller,
                PROMPT_CREATE,
                f"prompt:{prompt_type}",
                before={"version": _label(change.before)},
                after={
                    "version": _label(change.before),
                    "draft": change.after.version,
                    "chars": len(change.after.text),
                },
            )
        return PromptWrite(EffectivePrompt.of_version(change.after, active=activate), changed=True)

    async def activate(self, caller: Caller, prompt_type: str, version: int) -> PromptWrite:
        require_admin(caller, "Changing the system prompt")
        self._types.require(prompt_type)
        return await asyncio.to_thread(self._activate, caller, prompt_type, version)

    def _activate(self, caller: Caller, prompt_type: str, version: int) -> PromptWrite:
        stored = self._store.get_version(prompt_type, version)
        if stored is None:
            raise NotFound(f"The {prompt_type} prompt has no version {version}.")
        _require_fillable(prompt_type, stored.text, f"activate version {version}")
        change = self._store.activate(prompt_type, version)
        if change is None:
            raise NotFound(f"The {prompt_type} prompt has no version {version}.")
        assert change.after is not None
        if change.before != version:
            self._record(caller, PROMPT_ACTIVATE, prompt_type, change)
        return PromptWrite(EffectivePrompt.of_version(change.after), change.before != version)

    async def reset(self, caller: Caller, prompt_type: str) -> PromptWrite:
        require_admin(caller, "Changing the system prompt")
        self._types.require(prompt_type)
        return await asyncio.to_thread(self._reset, caller, prompt_type)

    def _reset(self, caller: Caller, prompt_type: str) -> PromptWrite:
        change = self._store.reset(prompt_type)
        if change.before is not None:
            self._record(caller, PROMPT_RESET, prompt_type, change)
        default = EffectivePrompt.of_default(prompt_type, self._types.default(prompt_type))
        return PromptWrite(default, changed=change.before is not None)

    def _record(
        self,
        caller: Caller,
        action: str,
        prompt_type: str,
        change: PromptChange,
        after_extra: dict[str, Any] | None = None,
    ) -> None:
        after = change.after.version if change.after else None
        self._audit.record(
            caller,
            action,
            f"prompt:{prompt_type}",
            before={"version": _label(change.before)},
            after={"version": _label(after), **(after_extra or {})},
        )


def _require_fillable(prompt_type: str, text: str, action: str) -> None:
    """`InvalidRequest` naming the variables of `text` the service cannot fill itself."""
    needed = required_variables(text)
    if needed:
        names = ", ".join(needed)
        built_in = ", ".join(BUILTIN_VARIABLES)
        raise InvalidRequest(
            f"Cannot {action}: the {prompt_type} prompt would need a value for {names} at every "
            f"turn, and the service fills only the built-in variables ({built_in}). Save it as "
            "a draft (activate: false) and try it in the playground, or remove those variables."
        )


def _label(version: int | None) -> int | str:
    return version if version is not None else "default"
