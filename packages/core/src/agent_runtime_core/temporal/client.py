"""The Temporal client factory: one data converter for every process."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor, Plugin
from temporalio.contrib.pydantic import pydantic_data_converter


async def connect_temporal(
    address: str,
    namespace: str = "default",
    *,
    plugins: list[Plugin] | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """Connect to Temporal with the pydantic data converter (our inputs are pydantic models)."""
    return await Client.connect(
        address,
        namespace=namespace,
        data_converter=pydantic_data_converter,
        plugins=plugins or [],
        interceptors=interceptors,
    )
