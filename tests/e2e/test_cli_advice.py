"""`almanac advise`: structured advice on the command line, pretty or as JSON."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from backend.cli.main import app
from use_cases.advice.domain import StructuredAdvice
from use_cases.chat.prompts import NOT_FOUND_ANSWER

runner = CliRunner()
QUESTION = "Can I deploy to production on Friday?"


def test_advise_prints_the_advice_its_confidence_reasoning_and_sources(env: None) -> None:
    result = runner.invoke(app, ["advise", QUESTION])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # the terminal wraps long lines
    assert "Friday 09:00–12:00 CET" in out
    assert re.search(r"Confidence: 0\.\d\d \((moderate|high|very high)\)", out), out
    assert "Reasoning: This follows Production Change Management Policy" in out
    assert (
        "Sources: [1] Production Change Management Policy, 2. Deployment windows (2025-08-25)"
        in out
    )
    assert "model offline-extractive · search MANDATORY · resp_" in out


def test_advise_json_is_one_structured_advice(env: None) -> None:
    result = runner.invoke(app, ["advise", "What is the parental leave policy?", "--json"])
    assert result.exit_code == 0, result.output
    advice = StructuredAdvice.model_validate(json.loads(result.stdout))
    assert advice.main_advice.startswith(NOT_FOUND_ANSWER)
    assert advice.sources == [] and advice.confidence_score <= 0.1


def test_advise_without_search_and_with_a_refused_model(env: None) -> None:
    result = runner.invoke(app, ["advise", QUESTION, "--no-search", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["search_decision"] == "USER_OVERRIDE_NO"
    refused = runner.invoke(app, ["advise", QUESTION, "--model", "openai:gpt-9"])
    assert refused.exit_code == 1
    assert "not allowed" in refused.stderr and "Traceback" not in refused.stderr
