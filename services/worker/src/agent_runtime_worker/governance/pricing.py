"""The price of one model request: an override from ``model_prices`` wins, else genai-prices.

Unknown price → ``None`` with source ``unknown``; never a guessed number.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final

from genai_prices import calc_price
from pydantic_ai.usage import RequestUsage

from agent_runtime_core.models import PriceSource
from agent_runtime_core.repositories.usage import OverridePrice

GENAI_PRICES_PROVIDERS: Final[dict[str, str | None]] = {
    "openai": "openai",
    "anthropic": "anthropic",
    # Any server speaking OpenAI's API: genai-prices finds the model by its name alone (a
    # self-hosted `gpt-4o-mini` clone would be priced as OpenAI's; override it in model_prices).
    "openai-compatible": None,
}
"""Our providers → genai-prices provider ids. Providers not listed (``builtin``) have no price."""

MILLION: Final = Decimal(1_000_000)


def override_cost(usage: RequestUsage, price: OverridePrice) -> Decimal:
    """USD for ``usage`` at an override price (cached input at its own price when it has one)."""
    cached = min(usage.cache_read_tokens, usage.input_tokens)
    cached_price = price.cached_input_usd_per_mtok
    if cached_price is None:
        cached_price = price.input_usd_per_mtok
    total = (
        (usage.input_tokens - cached) * price.input_usd_per_mtok
        + cached * cached_price
        + usage.output_tokens * price.output_usd_per_mtok
    )
    return total / MILLION


def genai_prices_cost(usage: RequestUsage, provider: str, model: str, at: datetime) -> Decimal | None:
    """USD for ``usage`` from genai-prices' table, or ``None`` when it does not know the model."""
    if provider not in GENAI_PRICES_PROVIDERS:
        return None
    try:
        calculation = calc_price(
            usage, model, provider_id=GENAI_PRICES_PROVIDERS[provider], genai_request_timestamp=at
        )
    except LookupError:
        return None
    return calculation.total_price


def price_request(
    usage: RequestUsage, provider: str, model: str, at: datetime, override: OverridePrice | None
) -> tuple[Decimal | None, PriceSource]:
    """``(cost in USD or None, where the price came from)``."""
    if override is not None:
        return override_cost(usage, override), PriceSource.OVERRIDE
    cost = genai_prices_cost(usage, provider, model, at)
    if cost is None:
        return None, PriceSource.UNKNOWN
    return cost, PriceSource.GENAI_PRICES
