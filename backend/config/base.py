"""What every settings group shares: `SettingsGroup`, and the project root its defaults
name."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


class SettingsGroup(BaseModel):
    """One feature's settings. Its `title` heads its section of `.env.example` and
    docs/configuration.md, its docstring introduces the section. Each field is read from the
    environment by its environment name: the field's own name, upper-cased (PORT is
    `server.port`), or, where the field leaves out the prefix that names its group, the
    `validation_alias` it declares (EVAL_CONCURRENCY is `evaluation.concurrency`), so the
    environment's names stay as they were before the settings were grouped. A group is built
    from those names too (`EvaluationSettings(eval_concurrency=2)`): one name per setting."""

    model_config = ConfigDict(validate_default=True, extra="forbid")

    @classmethod
    def environment_names(cls) -> dict[str, str]:
        """Field name -> environment name (lower-case), in declaration order."""
        return {
            name: field.validation_alias if isinstance(field.validation_alias, str) else name
            for name, field in cls.model_fields.items()
        }
