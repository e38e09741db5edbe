"""Column helpers shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def timestamp_column(*, nullable: bool = False, index: bool = False) -> Any:
    """A ``timestamptz`` column."""
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


def jsonb_column(*, nullable: bool = False) -> Any:
    """A ``jsonb`` column."""
    return Column(JSONB, nullable=nullable)
