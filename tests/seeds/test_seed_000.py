"""Seed 000, the advice backend with calibrated confidence: its client, unchanged.

Written from the document alone (`../shared/seeds/000_*.txt`, "API Endpoints" and the
configuration it describes): every endpoint it lists, called as it shows it, reading the
fields it shows. Its examples ask about fantasy sports; Almanac advises from an
organisation's documents, so the questions here are the sample knowledge base's. Where
Almanac differs on purpose, docs/seeds.md says so and why.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from backend.bootstrap import Container, bootstrap
from tests.conftest import FixedClock, asgi_client, make_settings
from tests.postgres import fresh_database
from tests.seeds.conftest import SEED_SETTINGS
from use_cases.advice.agent import ADVICE_TOOL

QUESTION = "How often must passwords be rotated?"
ADVICE_FIELDS = {"main_advice", "reasoning", "confidence_score", "alternatives", "model_identifier"}


def advice_request(question: str = QUESTION, **extra: Any) -> dict[str, Any]:
    """The document's `AdviceRequest`."""
    return {
        "conversation": [{"role": "user", "content": question}],
        "model": "gpt-4.1-mini",
        "enable_web_search": False,
        **extra,
    }


def accumulated(stream_text: str) -> dict[str, Any]:
    """What the document tells a client to do: concatenate the `data` of the events."""
    pieces = [
        line.removeprefix("data:").removeprefix(" ")
        for line in stream_text.splitlines()
        if line.startswith("data:")
    ]
    return json.loads("".join(pieces))


def check_structured_advice(advice: dict[str, Any]) -> None:
    assert advice.keys() >= ADVICE_FIELDS, advice
    assert advice["main_advice"] and isinstance(advice["reasoning"], str)
    assert 0.0 <= advice["confidence_score"] <= 1.0
    assert all("reason" in alternative for alternative in advice["alternatives"])
    assert advice["model_identifier"].endswith("gpt-4.1-mini")  # the request's model


async def advise(client: httpx.AsyncClient, question: str = QUESTION) -> dict[str, Any]:
    response = await client.post("/advice-non-streaming", json=advice_request(question))
    assert response.status_code == 200, response.text
    return response.json()


# --- 1, 2: the welcome page and the health check ---------------------------------------------


async def test_the_welcome_page_is_html(seed_client: httpx.AsyncClient) -> None:
    response = await seed_client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_health_says_healthy_and_the_version(seed_client: httpx.AsyncClient) -> None:
    response = await seed_client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert isinstance(body["version"], str) and body["version"].count(".") >= 2


# --- 3, 4: advice, streamed and whole ---------------------------------------------------------


async def test_streamed_advice_adds_up_to_one_structured_advice(
    seed_client: httpx.AsyncClient,
) -> None:
    response = await seed_client.post("/advice", json=advice_request())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    advice = accumulated(response.text)
    check_structured_advice(advice)
    assert "[1]" in advice["main_advice"]  # grounded in the knowledge base


async def test_advice_non_streaming_is_the_same_structure_whole(
    seed_client: httpx.AsyncClient,
) -> None:
    advice = await advise(seed_client)
    check_structured_advice(advice)
    assert advice["response_id"].startswith("resp_")


async def test_the_request_model_wins_over_the_configured_default(
    seed_client: httpx.AsyncClient,
) -> None:
    body = advice_request(model="offline-extractive")
    response = await seed_client.post("/advice-non-streaming", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["model_identifier"] == "offline-extractive"
    del body["model"]  # then OPENAI_DEFAULT_MODEL
    response = await seed_client.post("/advice-non-streaming", json=body)
    assert response.json()["model_identifier"].endswith("gpt-4.1-mini")


# --- 5: search discipline ----------------------------------------------------------------------


async def test_search_discipline_explains_its_decision(seed_client: httpx.AsyncClient) -> None:
    response = await seed_client.post(
        "/search-discipline", params={"query": "Is the VPN down right now?"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == "Is the VPN down right now?"
    assert body["search_override"] is None
    assert body["decision"] in {"MANDATORY", "DEFAULT_YES"}
    assert body["should_search"] is True and body["reasoning"]
    payload = body["policy_payload"]
    assert payload["user_query"] == body["query"]
    assert payload["conversation_context"] is None and payload["user_override"] is None
    assert payload["system_rules_decision"] == payload["final_decision"] == body["decision"]
    assert payload["system_rules_reasoning"] and payload["final_reasoning"] == body["reasoning"]
    analysis = body["query_analysis"]
    assert analysis["is_time_sensitive"] is True
    assert "right now" in analysis["time_sensitive_keywords"]
    assert analysis["has_active_entities"] is True
    assert any("VPN" in reason for reason in analysis["active_entity_reasons"])
    assert isinstance(analysis["query_classification"], str)


async def test_search_override_is_echoed_and_decides(seed_client: httpx.AsyncClient) -> None:
    response = await seed_client.post(
        "/search-discipline", params={"query": QUESTION, "search_override": "/nosrch"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["search_override"] == "/nosrch"
    assert (body["decision"], body["should_search"]) == ("USER_OVERRIDE_NO", False)
    payload = body["policy_payload"]
    assert payload["user_override"] == "/nosrch"
    assert payload["system_rules_decision"] == "MANDATORY"
    assert payload["final_decision"] == "USER_OVERRIDE_NO"
    forced = await seed_client.post(
        "/search-discipline", params={"query": "hello", "search_override": "/search"}
    )
    assert forced.json()["decision"] == "USER_OVERRIDE_YES"
    assert forced.json()["search_override"] == "/search"


# --- 6, 7: models --------------------------------------------------------------------------------


async def test_model_and_the_default_model_setting(seed_client: httpx.AsyncClient) -> None:
    model = await seed_client.get("/model")
    assert model.status_code == 200 and isinstance(model.json()["model"], str)
    default = await seed_client.get("/api/v1/settings/default-model")
    assert default.status_code == 200
    assert default.json()["model"].endswith("gpt-4.1-mini")  # OPENAI_DEFAULT_MODEL


# --- 8: feedback ---------------------------------------------------------------------------------


async def test_feedback_on_an_advice_succeeds_and_an_unknown_id_is_404(
    seed_client: httpx.AsyncClient,
) -> None:
    advice = await advise(seed_client)
    response = await seed_client.post(
        "/feedback",
        json={
            "response_id": advice["response_id"],
            "outcome": True,
            "feedback_notes": "The advice was spot on.",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success" and body["message"]
    assert body["response_id"] == advice["response_id"]
    missing = await seed_client.post(
        "/feedback", json={"response_id": "resp_xxxxxxxxxxxx", "outcome": False}
    )
    assert missing.status_code == 404


# --- 9 to 14: confidence -------------------------------------------------------------------------


@pytest.fixture
async def rated(seed_client: httpx.AsyncClient) -> list[str]:
    """Two advices with feedback, one right, one wrong."""
    ids = []
    for question, outcome in ((QUESTION, True), ("What is the SEV1 acknowledgement time?", False)):
        advice = await advise(seed_client, question)
        feedback = {"response_id": advice["response_id"], "outcome": outcome}
        assert (await seed_client.post("/feedback", json=feedback)).status_code == 200
        ids.append(advice["response_id"])
    return ids


async def test_confidence_stats(seed_client: httpx.AsyncClient, rated: list[str]) -> None:
    response = await seed_client.get("/confidence/stats", params={"days_back": 7})
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["total_responses"] >= stats["responses_with_feedback"] >= 2
    assert stats["positive_feedback_count"] >= 1 and stats["negative_feedback_count"] >= 1
    assert (
        stats["positive_feedback_count"] + stats["negative_feedback_count"]
        == stats["responses_with_feedback"]
    )
    assert 0.0 <= stats["avg_confidence_score"] <= 1.0
    assert 0.0 <= stats["brier_score_overall"] <= 1.0
    bands = stats["calibration_data"]
    assert bands and {"confidence_band", "count", "observed_accuracy", "brier_score_band"} <= (
        bands[0].keys()
    )
    assert sum(band["count"] for band in bands) == stats["total_responses"]
    assert stats["last_updated"].endswith("Z") or "+00:00" in stats["last_updated"]


async def test_confidence_recent(seed_client: httpx.AsyncClient, rated: list[str]) -> None:
    response = await seed_client.get("/confidence/recent", params={"limit": 20})
    assert response.status_code == 200, response.text
    body = response.json()
    logs = body["logs"]
    assert body["total_count"] == len(logs) >= 2
    keys = {
        "id",
        "response_text",
        "confidence_score",
        "user_query",
        "model_used",
        "web_search_used",
        "outcome",
        "timestamp",
        "feedback_timestamp",
        "response_id",
    }
    assert all(keys <= log.keys() for log in logs)
    by_id = {log["response_id"]: log for log in logs}
    right, wrong = (by_id[i] for i in rated)
    assert (right["outcome"], wrong["outcome"]) == (True, False)
    assert right["feedback_timestamp"] is not None and right["user_query"] == QUESTION
    assert body["timestamp"] == max(log["timestamp"] for log in logs)
    assert (
        len((await seed_client.get("/confidence/recent", params={"limit": 1})).json()["logs"]) == 1
    )


async def test_confidence_brier_score(seed_client: httpx.AsyncClient, rated: list[str]) -> None:
    response = await seed_client.get("/confidence/brier-score", params={"days_back": 7})
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0.0 <= body["brier_score"] <= 1.0 and body["total_predictions"] >= 2
    points = body["calibration_curve_data"]
    assert points and all(
        {"predicted_probability", "observed_frequency"} <= point.keys() for point in points
    )
    assert isinstance(body["reliability_diagram_data"], dict)


async def test_confidence_calibration(seed_client: httpx.AsyncClient, rated: list[str]) -> None:
    response = await seed_client.get("/confidence/calibration", params={"days_back": 30})
    assert response.status_code == 200, response.text
    body = response.json()
    overall = body["overall_calibration"]
    assert {"average_confidence", "observed_accuracy", "expected_calibration_error (ECE)"} <= (
        overall.keys()
    )
    assert 0.0 <= overall["expected_calibration_error (ECE)"] <= 1.0
    band = body["calibration_bands"][0]
    assert {"band", "count", "avg_confidence", "observed_accuracy", "is_calibrated"} <= band.keys()
    assert band["band"].startswith("[")
    assert isinstance(body["drift_analysis"], dict)


async def test_confidence_auto_tune_dry_run_then_applied(
    seed_client: httpx.AsyncClient, rated: list[str]
) -> None:
    response = await seed_client.post("/confidence/auto-tune", params={"days_back": 7})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "dry_run_complete" and body["analyzed_period_days"] == 7
    assert isinstance(body["previous_calibration"], dict) and body["summary"]
    for adjustment in body["suggested_adjustments"]:
        assert {"phrase_key", "old_threshold", "new_threshold", "reason"} <= adjustment.keys()
    assert "new_phrase_configuration" in body
    applied = await seed_client.post(
        "/confidence/auto-tune", params={"days_back": 7, "dry_run": "false"}
    )
    assert applied.status_code == 200 and applied.json()["status"] == "tuning_applied"


async def test_confidence_phrase_status(seed_client: httpx.AsyncClient) -> None:
    response = await seed_client.get("/confidence/phrase-status")
    assert response.status_code == 200, response.text
    body = response.json()
    phrases = body["current_phrase_map"]
    assert phrases and all(
        {"min_score", "max_score", "phrase"} <= entry.keys() for entry in phrases.values()
    )
    top = max(phrases.values(), key=lambda entry: entry["max_score"])
    assert top["max_score"] == 1.0
    assert "last_tuned_timestamp" in body and "recent_calibration_score" in body
    assert body["tuning_mode"] in {"automatic", "manual"}


# --- configuration: SYSTEM_PROMPT, prompt_type, date anchoring ----------------------------------

SYSTEM_PROMPT = "You are a careful adviser. Ground every answer in the organisation's documents."
CHAT_PROMPT = "You answer questions about the organisation's documents, citing them."


class Recorder:
    """A model that records what it is sent and answers through the advice's output tool."""

    def __init__(self) -> None:
        self.instructions: list[str] = []
        self.prompts: list[str] = []

    async def stream(
        self, messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[DeltaToolCalls]:
        self.instructions.append(info.instructions or "")
        self.prompts += [
            p.content
            for m in messages
            if isinstance(m, ModelRequest)
            for p in m.parts
            if isinstance(p, UserPromptPart) and isinstance(p.content, str)
        ]
        draft = {"main_advice": "Noted.", "reasoning": "A recorded turn.", "alternatives": []}
        yield {0: DeltaToolCall(ADVICE_TOOL, json.dumps(draft), tool_call_id="out")}


@pytest.fixture
def configured(
    seed_backend: str, pg_server_url: str, tmp_path: Path
) -> Iterator[tuple[Container, Recorder]]:
    """A fresh Almanac started with SYSTEM_PROMPT set, its model recording what it is sent."""
    recorder = Recorder()
    settings: dict[str, object] = {**SEED_SETTINGS, "system_prompt": SYSTEM_PROMPT}
    settings["load_sample_data"] = False

    def started(url: str | None) -> Iterator[tuple[Container, Recorder]]:
        container = bootstrap(
            make_settings(tmp_path / "data", database_url=url, **settings),
            clock=FixedClock(),
        )
        container.adapters.models.register(
            "openai:gpt-4.1-mini", FunctionModel(stream_function=recorder.stream)
        )
        try:
            yield container, recorder
        finally:
            container.close()

    if seed_backend == "sqlite":
        yield from started(None)
        return
    with fresh_database(pg_server_url) as url:
        yield from started(url)


async def test_system_prompt_and_prompt_type_steer_advice_and_the_date_is_anchored(
    configured: tuple[Container, Recorder],
) -> None:
    container, recorder = configured
    async with asgi_client(container) as client:
        await advise(client, "Can I deploy on Friday?")
        advice_instructions = recorder.instructions[-1]
        chat = await client.post("/api/llm-prompts/chat", json={"text": CHAT_PROMPT})
        assert chat.status_code == 201, chat.text
        chat_prompt = await client.post(
            "/advice-non-streaming", json=advice_request(prompt_type="chat")
        )
        unknown = await client.post(
            "/advice-non-streaming", json=advice_request(prompt_type="limerick")
        )
    assert advice_instructions.startswith(SYSTEM_PROMPT)
    assert recorder.prompts[0] == "Current Date: 2026-03-02\n\nCan I deploy on Friday?"
    assert chat_prompt.status_code == 200, chat_prompt.text
    assert recorder.instructions[-1].startswith(CHAT_PROMPT)
    assert unknown.status_code == 422 and "limerick" in unknown.json()["detail"]
