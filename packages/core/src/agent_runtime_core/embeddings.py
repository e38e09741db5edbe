"""Embeddings for the memory store's semantic search.

:class:`Embedder` is what the store needs: texts in, unit-length vectors out, and the name of the
model (vectors of different models are never compared). One implementation ships:
:class:`OpenAIEmbedder`, the OpenAI embeddings wire format (``POST {base}/embeddings``), which
OpenAI and OpenAI-compatible servers (Ollama, vLLM, LiteLLM, llama.cpp) speak. It is configured by
``AGENT_RUNTIME_EMBEDDING_MODEL`` (:func:`embedder_from_settings`) with the model providers'
base-URL and key settings. Without it, the store has no embeddings and a search ``query`` is a
text match (``docs/decisions.md``, "Memory store").
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import httpx

from agent_runtime_core.settings import Settings

MAX_EMBEDDED_CHARS: Final = 8_000
"""Text sent for one item at most (longer values are cut): well within every embedding model's
input limit, and a memory is short."""
OPENAI_BASE_URL: Final = "https://api.openai.com/v1"


class EmbeddingError(Exception):
    """The embedding model could not be reached or answered something unusable."""


class Embedder(Protocol):
    """Turns texts into vectors for semantic search."""

    @property
    def model(self) -> str:
        """The model's name as configured (e.g. ``openai:text-embedding-3-small``)."""
        ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order; raises :class:`EmbeddingError`."""
        ...


def normalized(vector: Sequence[float]) -> list[float]:
    """``vector`` scaled to length 1 (so cosine similarity is a dot product); zeros stay zeros."""
    norm = math.sqrt(sum(x * x for x in vector))
    return [float(x) / norm for x in vector] if norm > 0 else [0.0 for _ in vector]


def text_for_embedding(value: Mapping[str, Any], fields: Sequence[str] | None = None) -> str:
    """The text of an item that is embedded: the listed top-level ``fields`` (strings as they
    are, anything else as JSON), or the whole value as JSON; cut to :data:`MAX_EMBEDDED_CHARS`."""
    if fields:
        parts = [
            item if isinstance(item, str) else json.dumps(item, ensure_ascii=False, sort_keys=True)
            for name in fields
            if (item := value.get(name)) is not None
        ]
        text = "\n".join(parts)
    else:
        strings = [item for item in value.values() if isinstance(item, str)]
        # A value that is one text (`{"content": "..."}`) embeds as that text, not as JSON.
        text = (
            strings[0]
            if len(value) == 1 and strings
            else json.dumps(value, ensure_ascii=False, sort_keys=True)
        )
    return text[:MAX_EMBEDDED_CHARS]


@dataclass(frozen=True)
class OpenAIEmbedder:
    """An OpenAI-compatible ``/embeddings`` endpoint."""

    model: str
    """As configured, with its provider (``openai-compatible:nomic-embed-text``)."""
    base_url: str
    api_key: str | None = None
    dimensions: int | None = None
    timeout_s: float = 30.0
    transport: httpx.AsyncBaseTransport | None = None
    """For tests; ``None``: the network."""

    @property
    def model_name(self) -> str:
        """The name the server knows the model by (after ``provider:``)."""
        return self.model.partition(":")[2]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One request for all ``texts``; vectors come back normalized, in input order."""
        if not texts:
            return []
        if not self.base_url:
            raise EmbeddingError("no server for openai-compatible embeddings (AGENT_RUNTIME_OPENAI_BASE_URL)")
        body: dict[str, Any] = {"model": self.model_name, "input": list(texts)}
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = self.base_url.rstrip("/") + "/embeddings"
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, transport=self.transport) as client:
                response = await client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise EmbeddingError(f"the embedding model could not be reached ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise EmbeddingError(f"the embedding model answered HTTP {response.status_code}")
        return _vectors(response, len(texts))


def _vectors(response: httpx.Response, count: int) -> list[list[float]]:
    try:
        data = response.json()["data"]
        ordered = sorted(data, key=lambda entry: int(entry.get("index", 0)))
        vectors = [[float(x) for x in entry["embedding"]] for entry in ordered]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EmbeddingError("the embedding model's answer is not in the OpenAI embeddings format") from exc
    if len(vectors) != count or any(not vector for vector in vectors):
        raise EmbeddingError(f"the embedding model returned {len(vectors)} vectors for {count} texts")
    if len({len(vector) for vector in vectors}) != 1:
        raise EmbeddingError("the embedding model returned vectors of different sizes")
    return [normalized(vector) for vector in vectors]


def embedder_from_settings(settings: Settings) -> Embedder | None:
    """The embedder ``AGENT_RUNTIME_EMBEDDING_MODEL`` names (``None`` when unset)."""
    model = settings.embedding_model
    if not model:
        return None
    provider = model.partition(":")[0]
    if provider == "openai":
        base_url = settings.openai_api_base_url or OPENAI_BASE_URL
        key = settings.openai_api_key
    else:
        base_url = settings.openai_base_url or ""
        key = settings.openai_compatible_api_key
    return OpenAIEmbedder(
        model=model,
        base_url=base_url,
        api_key=key.get_secret_value() if key is not None else None,
        dimensions=settings.embedding_dimensions,
        timeout_s=settings.embedding_timeout_s,
    )
