"""Advice: structured advice turns and their threads (`use_cases/advice`)."""

from __future__ import annotations

from dataclasses import dataclass

from backend.agents import turn_agent
from backend.config import ChatSettings, RetrievalSettings
from backend.features.adapters import Wiring
from backend.features.chat import ChatUseCases
from backend.features.prompts import PromptUseCases
from use_cases.advice.agent import ADVICE_TURN, AdviceDeps
from use_cases.advice.give_advice import GiveAdvice
from use_cases.advice.manage_threads import ManageAdviceThreads
from use_cases.knowledge.collections import ResolveReadScope


@dataclass(frozen=True)
class AdviceUseCases:
    advice: GiveAdvice
    advice_threads: ManageAdviceThreads


def build(
    w: Wiring,
    prompts: PromptUseCases,
    chat: ChatUseCases,
    *,
    chat_settings: ChatSettings,
    retrieval: RetrievalSettings,
) -> AdviceUseCases:
    a = w.adapters
    advice = GiveAdvice(
        turn_agent(ADVICE_TURN, w.limits),
        prompts.advice_models,
        lambda: AdviceDeps(
            retriever=a.observed_retriever,
            sql=a.sql,
            clock=w.clock,
            search_limit=retrieval.final_results_limit,
            external=chat.external_tools,
        ),
        w.clock,
        w.limits,
        instructions=prompts.prompts.instructions,
        history_window=chat_settings.history_window,
        max_message_chars=chat_settings.max_message_chars,
        max_conversation_messages=chat_settings.max_conversation_messages,
        max_conversation_chars=chat_settings.max_conversation_chars,
        responses=chat.record_response,
        web_search=w.web_search,
        threads=a.advice_thread_store,
        observer=a.telemetry.metrics,
        readers=ResolveReadScope(a.collection_store),
        answers=w.stored_answers(),
    )
    return AdviceUseCases(
        advice=advice,
        advice_threads=ManageAdviceThreads(
            a.advice_thread_store, a.response_log, w.stored_answers()
        ),
    )
