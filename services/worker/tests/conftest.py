"""Fixtures of the worker's tests (the servers are in the repository's root conftest)."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from .fake_llm import FakeLLM


@pytest.fixture
def fake_llm() -> Generator[FakeLLM]:
    """A scripted OpenAI/Anthropic wire-format server on its own port (see ``fake_llm.py``)."""
    with FakeLLM() as server:
        yield server
