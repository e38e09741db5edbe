from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic_ai import ModelRetry

from agent_runtime_worker.tools.current_time import current_time


def test_current_time_defaults_to_utc_now_in_iso_format() -> None:
    before = datetime.now(UTC).replace(microsecond=0)

    result = current_time()

    parsed = datetime.fromisoformat(result)
    assert result.endswith("+00:00")
    assert parsed.utcoffset() == timedelta(0)
    assert before <= parsed <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("timezone", "offset"),
    [
        ("Asia/Tokyo", timedelta(hours=9)),  # no daylight saving time
        ("Asia/Kolkata", timedelta(hours=5, minutes=30)),
        ("Etc/GMT+5", timedelta(hours=-5)),  # POSIX sign convention: GMT+5 is UTC-5
    ],
)
def test_current_time_carries_the_zone_offset(timezone: str, offset: timedelta) -> None:
    result = current_time(timezone)

    parsed = datetime.fromisoformat(result)
    assert parsed.utcoffset() == offset
    assert abs(parsed - datetime.now(UTC)) < timedelta(seconds=5)


def test_current_time_is_given_to_the_second() -> None:
    assert "." not in current_time("Europe/Paris")


def test_current_time_accepts_a_zone_name_in_the_wrong_case() -> None:
    assert datetime.fromisoformat(current_time("asia/tokyo")).utcoffset() == timedelta(hours=9)


@pytest.mark.parametrize(
    "timezone",
    ["Mars/Olympus_Mons", "Europe", "", "../../etc/passwd", "/etc/localtime", "zone.tab"],
)
def test_current_time_names_an_unknown_zone_in_its_retry(timezone: str) -> None:
    with pytest.raises(ModelRetry) as raised:
        current_time(timezone)

    assert repr(timezone) in raised.value.message
    assert "IANA" in raised.value.message
