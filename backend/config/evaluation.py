"""Evaluation runs and the confidence calibration learnt from feedback."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from backend.config.base import SettingsGroup


class CalibrationSettings(SettingsGroup):
    """Recalibrating the answers' confidence from users' feedback."""

    model_config = ConfigDict(title="Calibration")

    min_feedback: int = Field(
        50,
        ge=2,
        le=1_000_000,
        description="Answers with feedback needed before the confidence is recalibrated "
        "(a monotone map from raw confidence to observed accuracy). Automatic refits happen at "
        "this count and each time it has grown by as much again.",
        validation_alias="recalibration_min_feedback",
    )
    method: Literal["isotonic", "platt"] = Field(
        "isotonic",
        description="How raw confidence is mapped to observed accuracy: `isotonic` "
        "(pool-adjacent-violators isotonic regression) or `platt` (logistic regression on the "
        "logit).",
        validation_alias="recalibration_method",
    )
    auto: bool = Field(
        True,
        description="Refit the recalibration map automatically as feedback arrives; when "
        "false only `POST /confidence/recalibrate` and `almanac calibration recalibrate` do.",
        validation_alias="recalibration_auto",
    )
    holdout: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="Share of the feedback held out (seeded split) to measure ECE before and "
        "after a recalibration; a map that makes the held-out ECE worse is not activated.",
        validation_alias="recalibration_holdout",
    )


class EvaluationSettings(SettingsGroup):
    """Evaluation and benchmark runs: concurrency, the judge, provider rate limits and retries."""

    model_config = ConfigDict(title="Evaluation runs")

    judge_model: str = Field(
        "",
        max_length=200,
        description="Model that judges answers for the `llm_judge` assertion of evaluation "
        "runs, e.g. openai:gpt-4.1-mini (any PydanticAI `provider:model`). Empty: no judge; "
        "`llm_judge` checks are reported as skipped.",
        validation_alias="eval_judge_model",
    )
    concurrency: int = Field(
        4,
        ge=1,
        le=32,
        description="Cases an evaluation run executes at once when the run does not say "
        "(`concurrency`, 1 to 32).",
        validation_alias="eval_concurrency",
    )
    rate_limit_per_minute: int = Field(
        60,
        ge=0,
        le=100_000,
        description="Model calls per minute per provider across evaluation runs (a token "
        "bucket per provider); 0 disables it. The offline model is never limited. Shared by "
        "every worker: in Redis with REDIS_URL, else in PostgreSQL; per process on SQLite.",
        validation_alias="eval_rate_limit_per_minute",
    )
    max_attempts: int = Field(
        4,
        ge=1,
        le=10,
        description="Attempts per evaluation case on a 429, 5xx or timeout from the provider, "
        "with exponential backoff and full jitter between them.",
        validation_alias="eval_max_attempts",
    )
    backoff_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Base of the evaluation retry backoff: the wait before attempt n+1 is "
        "random between 0 and min(EVAL_BACKOFF_MAX_SECONDS, base x 2^n) seconds.",
        validation_alias="eval_backoff_seconds",
    )
    backoff_max_seconds: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Longest wait between two attempts of an evaluation case.",
        validation_alias="eval_backoff_max_seconds",
    )
