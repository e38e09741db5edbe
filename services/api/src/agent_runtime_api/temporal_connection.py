"""One Temporal client per API process, connected lazily so the API starts without Temporal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.converter import DataConverter

from agent_runtime_core.errors import ServiceUnavailableError
from agent_runtime_core.temporal import TemporalSecurity, connect_temporal

logger = logging.getLogger(__name__)


class TemporalConnection:
    """Connects on first use; a failed connect is a 503 for that request, retried next time."""

    def __init__(
        self,
        address: str,
        namespace: str,
        *,
        interceptors: Sequence[Interceptor] = (),
        data_converter: DataConverter | None = None,
        security: TemporalSecurity | None = None,
    ) -> None:
        """A connection to ``address`` whose client uses ``data_converter`` (default: the plain
        pydantic one; the API passes the one built from its settings, as the workers do)."""
        self.address = address
        self.namespace = namespace
        self.interceptors = interceptors
        self.data_converter = data_converter
        self.security = security
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        """Return the connected client, connecting if needed."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await connect_temporal(
                        self.address,
                        self.namespace,
                        interceptors=self.interceptors,
                        data_converter=self.data_converter,
                        security=self.security,
                    )
                except Exception as exc:  # the SDK raises RuntimeError for transport failures
                    logger.warning("cannot reach Temporal at %s: %s", self.address, exc)
                    raise ServiceUnavailableError(
                        f"Temporal is not reachable at {self.address}; try again shortly."
                    ) from exc
            return self._client
