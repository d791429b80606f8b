"""Executing one evaluation item (model x case x variant), with retries and rate limits.

Rules:
- A case runs in a fresh chat of the evaluation user; a follow-up first replays its `history`
  in that chat (as `almanac eval answers` always did). The chat is deleted when the case ends,
  however it ends, so a run leaves no chat history behind.
- With a prompt version, every turn of the case gets `ChatRequest.instructions` = the
  version's text compiled with the case's `variables` (plus `today`).
- `retrieved` is the ranked document sources of a knowledge search for the question as asked
  (the top `k`); `sql_rows` are the rows of the answer's last table lookup, run again.
- Before every attempt the provider's token bucket is asked for a token (the offline model is
  never limited). An attempt that fails with a 429, a 5xx, a timeout or an unreachable
  provider (`UpstreamUnavailable`, not a 4xx) is retried up to `max_attempts` in all, after a
  wait drawn uniformly from [0, min(cap, base x 2^(attempt-1))] ("full jitter", tenacity's
  `wait_random_exponential`). Sleep and time are injected, so tests never wait.
- Any other failure, and the last retryable one, is the case's `error`: the item still gets a
  row (scored as a failure) and the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from loguru import logger
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from use_cases.access.domain import Caller
from use_cases.chat.chat_turns import ChatRequest, ChatResult, ChatTurns
from use_cases.chat.manage_chats import ManageChats
from use_cases.chat.prompts import SQL_TOOL
from use_cases.evaluation.answers import EVAL_USER
from use_cases.evaluation.assertions import AssertionResult, AssertionSpec, Judge
from use_cases.evaluation.checks import check_all
from use_cases.evaluation.domain import CaseOutcome, EvalCase, Pricing
from use_cases.evaluation.metrics import score_case
from use_cases.evaluation.perturb import perturb
from use_cases.evaluation.run_domain import CLEAN
from use_cases.knowledge.collections import ResolveReadScope
from use_cases.knowledge.search import SearchKnowledgeBase, SearchRequest
from use_cases.shared.errors import AlmanacError, NotFound, UpstreamBadResponse, UpstreamUnavailable
from use_cases.shared.sampling import NO_SAMPLING, Sampling
from use_cases.tables.tables import RunSql

Sleep = Callable[[float], Awaitable[None]]
Monotonic = Callable[[], float]
OFFLINE_PROVIDER = "offline"
_HTTP_5XX = re.compile(r"\bHTTP 5\d\d\b")


def provider_of(identifier: str) -> str:
    """`openai:gpt-4.1-mini` -> `openai`; a name without a provider prefix (the offline
    model) -> `offline`."""
    provider, sep, _ = identifier.partition(":")
    return provider if sep else OFFLINE_PROVIDER


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx, timeouts and unreachable providers; not a provider's 4xx or a bad answer."""
    if isinstance(exc, UpstreamBadResponse):
        return bool(_HTTP_5XX.search(exc.detail))
    return isinstance(exc, UpstreamUnavailable | TimeoutError)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 30.0


class SharedTokenBuckets(Protocol):
    """Token buckets every replica shares (PostgreSQL or Redis, as the chat rate limit's)."""

    def take(self, key: str, capacity: float, per_second: float) -> float:
        """Take one token of `key`'s bucket: 0.0 if taken, else the seconds until one is."""
        ...


class ProviderRateLimits:
    """A token bucket per provider: `per_minute` tokens a minute, bursts of up to
    max(1, per_minute / 60). `per_minute=0` disables it; the offline model is never limited.
    With `shared` buckets the limit holds across every process running evaluation cases (the
    workers of a cluster), not per process: each token is taken from the shared bucket, and a
    refused take waits as long as the bucket says before trying again."""

    def __init__(
        self,
        per_minute: int,
        *,
        monotonic: Monotonic,
        sleep: Sleep,
        shared: SharedTokenBuckets | None = None,
    ) -> None:
        self._rate = per_minute / 60.0
        self._capacity = max(1.0, self._rate)
        self._monotonic = monotonic
        self._sleep = sleep
        self._shared = shared
        self._buckets: dict[str, tuple[float, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def acquire(self, provider: str) -> float:
        """Take a token for `provider`, waiting for one if needed; returns the seconds waited."""
        if self._rate <= 0 or provider == OFFLINE_PROVIDER:
            return 0.0
        waited = 0.0
        async with self._locks.setdefault(provider, asyncio.Lock()):
            while True:
                wait = await self._take(provider)
                if wait <= 0:
                    return waited
                waited += wait
                await self._sleep(wait)

    async def _take(self, provider: str) -> float:
        if self._shared is not None:
            return await asyncio.to_thread(
                self._shared.take, f"eval:{provider}", self._capacity, self._rate
            )
        now = self._monotonic()
        tokens, last = self._buckets.get(provider, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - last) * self._rate)
        if tokens >= 1.0:
            self._buckets[provider] = (tokens - 1.0, now)
            return 0.0
        self._buckets[provider] = (tokens, now)
        return (1.0 - tokens) / self._rate


@dataclass(frozen=True)
class Item:
    """One execution: `model` is a resolved identifier, `variant` is `clean` or a
    perturbation name."""

    model: str
    case: EvalCase
    variant: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.model, self.case.id, self.variant)


@dataclass(frozen=True)
class ItemContext:
    """What every item of one run shares."""

    k: int
    seed: int
    assertions: tuple[AssertionSpec, ...] = ()
    prompt_text: str | None = None
    builtins: Mapping[str, str] = field(default_factory=dict)
    sampling: Sampling = NO_SAMPLING
    """The run's temperature, max_tokens, top_p, seed, sent with every turn."""
    reader: Caller | None = None
    """Whose rights the run reads with: its starter's (`BenchmarkRuns`); None: the
    evaluation user's own."""


@dataclass
class _Attempts:
    count: int = 0
    waits: list[float] = field(default_factory=list)


class ItemExecutor:
    """Runs one item through the real chat turn and scores it (see the module rules)."""

    def __init__(
        self,
        chat: ChatTurns,
        chats: ManageChats,
        search: SearchKnowledgeBase,
        run_sql: RunSql,
        *,
        pricing: Pricing | None,
        judge: Judge | None,
        limits: ProviderRateLimits,
        retry: RetryPolicy,
        sleep: Sleep,
        user_id: str = EVAL_USER,
        readers: ResolveReadScope | None = None,
    ) -> None:
        self._readers = readers
        self._chat = chat
        self._chats = chats
        self._search = search
        self._run_sql = run_sql
        self._pricing = pricing
        self._judge = judge
        self._limits = limits
        self._retry = retry
        self._sleep = sleep
        self._user_id = user_id

    async def execute(self, item: Item, context: ItemContext) -> dict[str, Any]:
        case = item.case
        question = (
            case.question
            if item.variant == CLEAN
            else perturb(case.question, item.variant, seed=context.seed, case_id=case.id)
        )
        attempts = _Attempts()
        try:
            instructions = _instructions(context, case)
            result = await self._with_retries(
                item.model,
                case,
                question,
                (instructions, context.sampling),
                attempts,
                context.reader,
            )
            outcome = await self._outcome(result, question, context)
        except Exception as exc:  # one case never fails the run
            outcome = CaseOutcome(answer="", error=_describe(exc))
        results: Sequence[AssertionResult] = await check_all(
            context.assertions, case, outcome, self._judge
        )
        judged = next((r for r in results if r.type == "llm_judge" and not r.skipped), None)
        cost = (
            None
            if outcome.error is not None
            else self._cost(item.model, outcome.input_tokens, outcome.output_tokens)
        )
        row = score_case(
            case,
            outcome,
            model=item.model,
            variant=item.variant,
            question=question,
            k=context.k,
            judge=(bool(judged.passed), judged.detail) if judged else None,
            assertions=results,
            cost_usd=cost,
            attempts=max(1, attempts.count),
        )
        row["sources"] = [s.title or s.source for s in outcome.sources]  # cited, for reading
        return row

    async def _with_retries(
        self,
        model: str,
        case: EvalCase,
        question: str,
        sent: tuple[str | None, Sampling],
        attempts: _Attempts,
        reader: Caller | None = None,
    ) -> ChatResult:
        """The case's turns, retried; `sent` is the system prompt (None: the one in force)
        and the sampling settings every turn gets."""

        def before_sleep(state: RetryCallState) -> None:
            if state.next_action is not None:
                attempts.waits.append(state.next_action.sleep)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.max_attempts),
            wait=wait_random_exponential(
                multiplier=self._retry.backoff_seconds, max=self._retry.backoff_max_seconds
            ),
            retry=retry_if_exception(is_retryable),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        provider = provider_of(model)
        async for attempt in retrying:
            with attempt:
                attempts.count += 1
                await self._limits.acquire(provider)
                return await self._turns(model, case, question, *sent, reader)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def _turns(
        self,
        model: str,
        case: EvalCase,
        question: str,
        instructions: str | None,
        sampling: Sampling,
        reader: Caller | None,
    ) -> ChatResult:
        # The case's own chat id, chosen here, so a turn that fails still leaves a chat we
        # can delete.
        chat_id = uuid.uuid4().hex
        try:
            for text in (*case.history, question):
                result = await self._chat.execute(
                    ChatRequest(
                        self._user_id,
                        text,
                        chat_id,
                        model,
                        start_if_missing=True,
                        instructions=instructions,
                        sampling=sampling,
                        reads_as=reader,
                    )
                )
            return result
        finally:
            await self._forget(chat_id)

    async def _forget(self, chat_id: str) -> None:
        with contextlib.suppress(NotFound):
            await self._chats.delete(self._user_id, chat_id)

    async def _outcome(
        self, result: ChatResult, question: str, context: ItemContext
    ) -> CaseOutcome:
        return CaseOutcome(
            answer=result.answer,
            sources=result.cited,
            retrieved=await self._retrieved(question, context.k, context.reader),
            sql_rows=await self._sql_rows(result, context.reader),
            refused=result.refused,
            confidence=result.confidence,
            confidence_raw=result.confidence_raw,
            latency_ms=result.latency_ms,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
        )

    async def _retrieved(self, question: str, k: int, reader: Caller | None) -> tuple[str, ...]:
        """The search a run's metrics score, read as the run's turns read."""
        try:
            page = await self._search.execute(SearchRequest(question, limit=k, caller=reader))
        except AlmanacError:
            return ()
        return tuple(hit.source for hit in page.hits)

    def _own_rights(self) -> Caller:
        return Caller(self._user_id, "user", None)

    async def _sql_rows(
        self, result: ChatResult, reader: Caller | None
    ) -> tuple[tuple[Any, ...], ...] | None:
        lookups = [c for c in result.tool_calls if c.name == SQL_TOOL and c.status == "success"]
        query = lookups[-1].args.get("sql") if lookups else None
        if not isinstance(query, str):
            return None
        try:
            collections = (
                None
                if self._readers is None
                else await asyncio.to_thread(
                    self._readers.collections_of, reader or self._own_rights()
                )
            )
            return (await self._run_sql.execute(query, collections)).rows
        except AlmanacError:
            return None

    def _cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        if self._pricing is not None:
            return self._pricing.cost_usd(model, input_tokens, output_tokens)
        return 0.0 if provider_of(model) == OFFLINE_PROVIDER else None


def _instructions(context: ItemContext, case: EvalCase) -> str | None:
    if context.prompt_text is None:
        return None
    from use_cases.prompts.templates import compile_template

    return compile_template(context.prompt_text, {**context.builtins, **case.variables})


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AlmanacError):
        return exc.detail
    logger.opt(exception=exc).error("An evaluation case failed unexpectedly")
    return f"The case failed with an internal error ({type(exc).__name__})."


def monotonic() -> float:
    return time.monotonic()
