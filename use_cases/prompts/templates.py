"""Prompt templates: a prompt version's text may hold `{{variables}}`, filled per use.

Rules:
- A variable is `{{ name }}`: a name of letters, digits and underscores that does not start
  with a digit, with optional spaces inside the braces. Any other brace text is left as it is,
  so prompts that show JSON or code keep their braces.
- `compile_template` fills every variable and refuses (naming them) when a value is missing;
  values it does not need are ignored. A text without variables compiles to itself.
- Values are inserted verbatim: a value holding `{{x}}` is not expanded again.
- Built-in variables are the ones the service fills itself whenever it uses a prompt
  (`BUILTIN_VARIABLES`: `today`, the service's current date as YYYY-MM-DD). A supplied value
  of the same name wins. `fill_known` fills only the variables it is given and leaves any other
  `{{name}}` as written (the prompt in force is filled that way at chat and advice time).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from use_cases.shared.errors import InvalidRequest

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def template_variables(text: str) -> tuple[str, ...]:
    """The variables `text` uses, in order of first use, each once."""
    return tuple(dict.fromkeys(m.group(1) for m in _VARIABLE.finditer(text)))


def missing_variables(text: str, variables: Mapping[str, object]) -> tuple[str, ...]:
    """The variables `text` uses that `variables` does not supply."""
    return tuple(name for name in template_variables(text) if name not in variables)


def compile_template(text: str, variables: Mapping[str, object]) -> str:
    """`text` with every `{{name}}` replaced by `str(variables[name])`.

    Raises `InvalidRequest` naming the variables that have no value."""
    missing = missing_variables(text, variables)
    if missing:
        names = ", ".join(missing)
        raise InvalidRequest(f"The prompt template needs a value for: {names}.")
    return _VARIABLE.sub(lambda m: str(variables[m.group(1)]), text)


#: Variables the service fills itself whenever it uses a prompt (see `builtin_variables`).
BUILTIN_VARIABLES: tuple[str, ...] = ("today",)


def builtin_variables(today: date) -> dict[str, str]:
    """The values of the built-in variables on the day `today`."""
    return {"today": today.isoformat()}


def required_variables(text: str) -> tuple[str, ...]:
    """The variables `text` uses that the service cannot fill itself (not built in)."""
    return tuple(name for name in template_variables(text) if name not in BUILTIN_VARIABLES)


def fill_known(text: str, variables: Mapping[str, object]) -> str:
    """`text` with the `{{name}}` that `variables` supplies filled; any other left as written."""
    return _VARIABLE.sub(
        lambda m: str(variables[m.group(1)]) if m.group(1) in variables else m.group(0), text
    )
