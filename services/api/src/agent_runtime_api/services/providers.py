"""Model-provider endpoints and their circuit breakers (deployment-wide, not per tenant)."""

from __future__ import annotations

from redis.exceptions import RedisError

from agent_runtime_core.breakers import BreakerState, CircuitBreakers
from agent_runtime_core.errors import NotFoundError, ServiceUnavailableError
from agent_runtime_core.schemas import BreakerSettingsPublic, ProviderEndpointList, ProviderEndpointPublic


def endpoint_public(state: BreakerState) -> ProviderEndpointPublic:
    """The API shape of one endpoint's breaker."""
    return ProviderEndpointPublic(
        id=state.id,
        provider=state.provider,
        base_url=state.base_url,
        state=state.state,
        failures=state.failures,
        opened_at=state.opened_at,
        next_probe_at=state.next_probe_at,
    )


class ProviderService:
    """Reads and resets the breakers workers share in Redis."""

    def __init__(self, breakers: CircuitBreakers | None, settings: BreakerSettingsPublic) -> None:
        """``breakers`` is ``None`` without Redis (breakers are then off)."""
        self.breakers = breakers
        self.settings = settings

    async def list(self) -> ProviderEndpointList:
        """Every endpoint the workers have used."""
        states: list[BreakerState] = []
        if self.breakers is not None:
            try:
                states = await self.breakers.states()
            except (RedisError, OSError) as error:
                raise ServiceUnavailableError(f"Redis is unreachable: {error}") from error
        return ProviderEndpointList(
            data=[endpoint_public(state) for state in states],
            breakers_enabled=self.breakers is not None,
            settings=self.settings,
        )

    async def reset(self, endpoint_id: str) -> ProviderEndpointPublic:
        """Close an endpoint's breaker and forget its failures."""
        if self.breakers is None:
            raise NotFoundError("Provider endpoint", endpoint_id)
        try:
            state = await self.breakers.reset(endpoint_id)
        except (RedisError, OSError) as error:
            raise ServiceUnavailableError(f"Redis is unreachable: {error}") from error
        if state is None:
            raise NotFoundError("Provider endpoint", endpoint_id)
        return endpoint_public(state)
