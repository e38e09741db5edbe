"""Context management of threads, activity side: what ``acquire_thread_turn`` hands the workflow,
and ``summarize_thread`` (docs/decisions.md, "Context management").

The bounding happens here, where the turns are read: the workflow (and so every Temporal payload
after it: the model-request activities' inputs) only ever holds what the version's strategy lets
the model see. The rules themselves are pure (:mod:`agent_runtime_core.thread_context`).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic_ai.messages import ModelMessagesTypeAdapter, ModelRequest, SystemPromptPart, UserPromptPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.settings import ModelSettings
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from agent_runtime_core.db import session_scope
from agent_runtime_core.lifecycle import DedupeKey, EventSpec, EventType
from agent_runtime_core.models import ThreadSummary
from agent_runtime_core.models.base import utcnow
from agent_runtime_core.repositories import ThreadRepository
from agent_runtime_core.temporal.contracts import ContextConfig
from agent_runtime_core.thread_context import (
    SUMMARY_INSTRUCTIONS,
    estimate_tokens,
    plan_summary,
    summary_message_text,
    transcript,
)
from agent_runtime_worker.contracts import SummarizeThreadInput, ThreadSummarized, ThreadTurn
from agent_runtime_worker.dependencies import WorkerDependencies
from agent_runtime_worker.governance.budgets import RequestIdentity
from agent_runtime_worker.models.governed import ModelResolver

logger = logging.getLogger(__name__)

SUMMARY_MAX_TOKENS = 1024
"""The summary request's output limit (the instructions ask for at most 300 words)."""


def summary_message(summary: ThreadSummary) -> dict[str, Any]:
    """The message that stands for turns ``1 .. summary.through_seq``: a request with one system
    prompt part (pydantic-ai's JSON form; its timestamp is the summary's, so it is stable)."""
    message = ModelRequest(
        parts=[
            SystemPromptPart(
                summary_message_text(summary.summary, summary.through_seq), timestamp=summary.created_at
            )
        ]
    )
    return ModelMessagesTypeAdapter.dump_python([message], mode="json")[0]


async def thread_context(
    threads: ThreadRepository, thread_id: str, context: ContextConfig | None
) -> ThreadTurn:
    """``acquire_thread_turn``'s answer for a run that has the turn: the earlier turns its model
    sees under ``context``, or a request to summarize first (``summarize_through_seq``)."""
    strategy = context.strategy if context is not None else "none"
    if strategy == "last_n" and context is not None and context.last_n_turns:
        turns = await threads.last_turns(thread_id, context.last_n_turns)
        messages = [message for turn in turns for message in turn.messages]
        return ThreadTurn(status="active", messages=messages, estimated_tokens=estimate_tokens(messages))
    if strategy == "summarize" and context is not None and context.max_context_tokens:
        summary = await threads.latest_summary(thread_id)
        covered = summary.through_seq if summary is not None else 0
        turns = await threads.turns(thread_id, from_seq=covered + 1)
        head = [summary_message(summary)] if summary is not None else []
        summary_tokens = estimate_tokens(head) if head else 0
        through = plan_summary(
            summary_tokens=summary_tokens,
            summarized_through=covered,
            turns=[(turn.seq, estimate_tokens(turn.messages)) for turn in turns],
            max_context_tokens=context.max_context_tokens,
        )
        if through is not None:
            return ThreadTurn(status="active", summarize_through_seq=through, summarized_through_seq=covered)
        messages = head + [message for turn in turns for message in turn.messages]
        return ThreadTurn(
            status="active",
            messages=messages,
            summarized_through_seq=covered,
            estimated_tokens=estimate_tokens(messages),
        )
    # `none`, or a strategy this build does not know (a newer API's): every earlier turn.
    messages = await threads.prior_messages(thread_id)
    return ThreadTurn(status="active", messages=messages, estimated_tokens=estimate_tokens(messages))


class ThreadSummarizer:
    """Writes the summary of a thread's oldest turns with the model, once per ``(thread, seq)``."""

    def __init__(self, dependencies: WorkerDependencies) -> None:
        """Read and write through the worker's database; call models as the agent does."""
        self.dependencies = dependencies
        self.models = ModelResolver(dependencies)

    async def summarize(self, data: SummarizeThreadInput) -> ThreadSummarized:
        """Summarize turns ``1 .. data.through_seq`` (the previous summary and the turns after it).

        Idempotent: a summary already stored for ``(thread, through_seq)`` is kept and returned (a
        retry after the commit, or another run's); two attempts racing both call the model but
        only the first write counts (``ON CONFLICT DO NOTHING``), its event written with it.

        The request is governed like the agent's: the version's model through the worker's
        resolver (credentials, circuit breaker, retry classification), and the tenant's budgets
        and usage ledger under the run (``summary:<thread>:<seq>`` as the request's key), so the
        run's usage and cost include it.
        """
        database = self.dependencies.database
        async with session_scope(database, data.tenant_id) as session:
            threads = ThreadRepository(session, data.tenant_id)
            existing = await threads.summary(data.thread_id, data.through_seq)
            if existing is not None:
                return ThreadSummarized(through_seq=data.through_seq, chars=len(existing.summary))
            previous = await threads.latest_summary(data.thread_id, through_at_most=data.through_seq - 1)
            covered = previous.through_seq if previous is not None else 0
            turns = await threads.turns(
                data.thread_id, from_seq=covered + 1, limit=max(data.through_seq - covered, 0)
            )
            text = transcript(
                [(turn.seq, turn.messages) for turn in turns], previous.summary if previous else None
            )
        summary_text, usage = await self._ask_model(data, text)
        row = ThreadSummary(
            thread_id=data.thread_id,
            through_seq=data.through_seq,
            tenant_id=data.tenant_id,
            run_id=data.run_id,
            from_seq=covered + 1,
            model=data.model,
            summary=summary_text,
            input_tokens=usage[0],
            output_tokens=usage[1],
            created_at=utcnow(),
        )
        created = False

        async def store(session: AsyncSession) -> None:
            nonlocal created
            created = await ThreadRepository(session, data.tenant_id).add_summary(row)

        event = EventSpec(
            EventType.THREAD_SUMMARIZED,
            {
                "thread_id": data.thread_id,
                "from_seq": row.from_seq,
                "through_seq": row.through_seq,
                "previous_summary_through_seq": covered or None,
                "model": data.model,
                "summary": summary_text,
                "input_tokens": usage[0],
                "output_tokens": usage[1],
            },
            DedupeKey.thread_summarized(data.thread_id, data.through_seq),
        )
        await self.dependencies.events.record_many(data.tenant_id, data.run_id, [event], also=store)
        return ThreadSummarized(through_seq=data.through_seq, chars=len(summary_text), created=created)

    async def _ask_model(self, data: SummarizeThreadInput, text: str) -> tuple[str, tuple[int, int]]:
        model = self.models.resolve(data.model)
        if model is None:
            raise ApplicationError(
                f"unknown summary model {data.model!r}", type="UserError", non_retryable=True
            )
        provider, _, model_name = data.model.partition(":")
        info = activity.info()
        identity = RequestIdentity(
            tenant_id=data.tenant_id,
            run_id=data.run_id,
            request_key=f"summary:{data.thread_id}:{data.through_seq}",
            at=info.current_attempt_scheduled_time,
        )
        ticket = await self.dependencies.budgets.before_request(identity, provider, model_name)
        request = ModelRequest(parts=[UserPromptPart(text)], instructions=SUMMARY_INSTRUCTIONS)
        settings = ModelSettings(max_tokens=data.max_tokens or SUMMARY_MAX_TOKENS)
        response = await model.request([request], settings, ModelRequestParameters())
        await self.dependencies.budgets.after_request(ticket, response.usage)
        summary = "".join(part.content for part in response.parts if part.part_kind == "text").strip()
        if not summary:
            raise ApplicationError("the model answered the summary request with no text", type="EmptySummary")
        return summary, (response.usage.input_tokens, response.usage.output_tokens)
