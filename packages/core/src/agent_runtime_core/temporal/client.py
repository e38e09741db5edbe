"""The Temporal client factory: one data converter for every process."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor, Plugin
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter


async def connect_temporal(
    address: str,
    namespace: str = "default",
    *,
    data_converter: DataConverter | None = None,
    plugins: list[Plugin] | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect to Temporal with ``data_converter``: the processes of a deployment pass the one
    `agent_runtime_core.temporal.data_converter.data_converter_from_settings` builds (encryption,
    offloaded payloads); the default is the plain pydantic converter (our inputs are pydantic
    models)."""
    return await Client.connect(
        address,
        namespace=namespace,
        data_converter=data_converter or pydantic_data_converter,
        plugins=plugins or [],
        interceptors=interceptors,
    )
