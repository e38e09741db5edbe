"""Fixtures of the worker's tests (the servers are in the repository's root conftest)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from agent_runtime_cli.embedded import temporal_test_server_path
from agent_runtime_core.temporal import SEARCH_ATTRIBUTE_TYPES

from .fake_llm import FakeLLM


@pytest.fixture
def fake_llm() -> Generator[FakeLLM]:
    """A scripted OpenAI/Anthropic wire-format server on its own port (see ``fake_llm.py``)."""
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncGenerator[WorkflowEnvironment]:
    """Temporal's time-skipping test server (timers fire at once), one per test module."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(temporal_test_server_path()), data_converter=pydantic_data_converter
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                name: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{kind.upper()}")
                for name, kind in SEARCH_ATTRIBUTE_TYPES.items()
            },
        )
    )
    yield env
    await env.shutdown()
