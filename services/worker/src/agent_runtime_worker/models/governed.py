"""``GovernedModel``: the model every run's requests go through, inside the model-request activity.

It wraps the provider's model and runs the governance hooks around each request. Each hook is
a separate step with its own module, so more can be added without touching the others:

* budgets and usage (:mod:`agent_runtime_worker.governance.budgets`): the tenant's budgets are
  checked before the request; usage and cost are recorded after it, once per request.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai._run_context import get_current_run_context
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from temporalio import workflow

from agent_runtime_worker.governance import budgets


class GovernedModel(WrapperModel):
    """A model wrapped with the governance hooks (see the module doc).

    ``provider`` and ``model_id_name`` are the agent version's ``provider:model`` parts: they
    name the model in the ledger and pick its price.
    """

    def __init__(self, wrapped: Model, *, provider: str, model_id_name: str) -> None:
        super().__init__(wrapped)
        self.provider_id = provider
        self.model_id_name = model_id_name

    async def _before(self, run_context: RunContext[Any] | None) -> budgets.RequestTicket | None:
        if workflow.in_workflow():  # the durable model runs the request in an activity
            return None
        identity = budgets.request_identity(run_context or get_current_run_context())
        if identity is None:  # not a run of ours (e.g. pydantic-ai used directly)
            return None
        return await budgets.before_request(identity, self.provider_id, self.model_id_name)

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        """Check budgets, send the request, record its usage and cost."""
        ticket = await self._before(None)
        response = await self.wrapped.request(messages, model_settings, model_request_parameters)
        if ticket is not None:
            await budgets.after_request(ticket, response.usage)
        return response

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        """Check budgets, stream the response, record its usage and cost once it is consumed."""
        ticket = await self._before(run_context)
        async with self.wrapped.request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as stream:
            yield stream
        if ticket is not None:
            await budgets.after_request(ticket, stream.usage)
