"""A tool that tells the model the current date and time."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import datetime
from typing import Annotated

from pydantic import Field
from pydantic_ai import ModelRetry

__all__ = ["current_time"]


def current_time(
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC",
) -> str:
    """Get the current date and time in a time zone, as an ISO-8601 timestamp.

    Use this whenever the answer depends on today's date or the current time; never guess it.
    The result carries the zone's UTC offset, e.g. 2025-05-04T13:37:00+02:00 for Europe/Paris.

    Args:
        timezone: An IANA time zone name such as `UTC`, `Europe/Paris` or `America/New_York`.
            Defaults to `UTC`.

    Returns:
        The current time in ISO-8601 format, to the second, with the UTC offset.

    Raises:
        ModelRetry: If `timezone` is not a known IANA time zone name.
    """
    return datetime.now(_zone(timezone.strip())).isoformat(timespec="seconds")


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError also covers keys zoneinfo refuses to open (absolute paths, `..`) and files
        # in the zoneinfo directory that are not zones (`zone.tab`).
        pass
    # Models often get the case wrong ("utc", "europe/paris"); the key itself is case-sensitive.
    canonical = _zone_names_by_folded_name().get(name.casefold())
    if canonical is not None:
        return zoneinfo.ZoneInfo(canonical)
    raise ModelRetry(
        f"Unknown time zone {name!r}. Use an IANA time zone name such as "
        "'UTC', 'Europe/London' or 'Asia/Tokyo'."
    )


@functools.cache
def _zone_names_by_folded_name() -> dict[str, str]:
    return {zone_name.casefold(): zone_name for zone_name in zoneinfo.available_timezones()}
