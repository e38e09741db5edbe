"""Shapes shared by every resource, and the input rules every request body follows.

Postgres cannot store a NUL character (``\\u0000``) in ``text`` or ``jsonb``, and deeply nested
free-form JSON breaks serialization long before it is useful. Both are refused where the request
enters (a 422 naming the field) by one validator on :class:`StrictInput`, the base of every
request body, rather than field by field: a value that reached the database or a workflow would
fail there, after the API had already answered 2xx.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Generic, TypeVar, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

T = TypeVar("T")

MAX_JSON_DEPTH: Final = 32
"""Deepest nesting accepted in a free-form JSON value (objects and arrays inside a field)."""
MAX_JSON_ITEMS: Final = 10_000
"""Most entries (object members plus array items, at every level) in one free-form JSON value."""

EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""Earliest time accepted in a request: nothing the runtime records is older."""
LATEST: Final = datetime(2200, 1, 1, tzinfo=UTC)
"""Latest time (exclusive) accepted in a request: far enough for any schedule or window end, near
enough that arithmetic on it (a window of days before or after) cannot overflow."""


def _nul_error() -> PydanticCustomError:
    return PydanticCustomError(
        "nul_character", "text must not contain the NUL character (\\u0000): it cannot be stored"
    )


def refuse_nul(value: str) -> str:
    """Return ``value``, or raise a validation error if it holds a NUL character."""
    if "\x00" in value:
        raise _nul_error()
    return value


Loc = tuple[str | int, ...]


def storable_problem(value: object) -> tuple[Loc, PydanticCustomError] | None:
    """Why ``value`` cannot be accepted (where, relative to it, and what), or ``None``.

    Walks strings, mappings (keys too) and sequences iteratively, so a hostile depth cannot
    exhaust the stack: no NUL character anywhere, at most :data:`MAX_JSON_DEPTH` levels of nesting
    and :data:`MAX_JSON_ITEMS` object members and array items in all. Nested request models
    checked their own fields when they were validated. The location names list items down to the
    free-form value, not inside it.
    """
    stack: list[tuple[object, int, Loc, bool]] = [(value, 0, (), False)]
    items = 0
    while stack:
        current, depth, loc, free_form = stack.pop()
        if isinstance(current, str):
            if "\x00" in current:
                return loc, _nul_error()
            continue
        if isinstance(current, StrictInput):
            continue
        children: list[tuple[object, Loc]]
        if isinstance(current, Mapping):
            mapping: Mapping[object, object] = current  # pyright: ignore[reportUnknownVariableType]
            children = [(child, loc) for child in (*mapping.keys(), *mapping.values())]
            free_form = True
        elif isinstance(current, list | tuple | set | frozenset):
            sequence: list[object] = list(cast(Iterable[object], current))
            children = [(child, loc if free_form else (*loc, index)) for index, child in enumerate(sequence)]
        else:
            continue
        if depth >= MAX_JSON_DEPTH:
            problem = PydanticCustomError(
                "json_too_deep", "nested more than {max_depth} levels deep", {"max_depth": MAX_JSON_DEPTH}
            )
            return loc, problem
        items += len(children) // 2 if isinstance(current, Mapping) else len(children)
        if items > MAX_JSON_ITEMS:
            problem = PydanticCustomError(
                "json_too_large", "more than {max_items} members and items", {"max_items": MAX_JSON_ITEMS}
            )
            return loc, problem
        stack.extend((child, depth + 1, child_loc, free_form) for child, child_loc in children)
    return None


def check_datetime_range(value: datetime) -> datetime:
    """Read a naive datetime as UTC, and refuse one outside [1970, 2200).

    One convention for every datetime the API accepts (see ``docs/decisions.md``).
    """
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    # Converting a time near datetime.min/max with an offset overflows: out of range as well.
    try:
        in_utc = aware.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc < LATEST:
        raise PydanticCustomError(
            "datetime_out_of_range",
            "must be between {earliest} and {latest}",
            {"earliest": "1970-01-01T00:00:00Z", "latest": "2200-01-01T00:00:00Z"},
        )
    return in_utc


Text = Annotated[str, AfterValidator(refuse_nul)]
"""A string Postgres can store (no NUL character); for query and path parameters."""

Timestamp = Annotated[datetime, AfterValidator(check_datetime_range)]
"""A datetime in a request: naive means UTC; returned in UTC; 1970 ≤ value < 2200."""


class StrictInput(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped; every value
    must be storable (no NUL character, free-form JSON bounded in depth and size)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        found = storable_problem(value)
        if found is None:
            return value
        loc, problem = found
        if not loc:
            raise problem
        # Locations below this field (e.g. `tools[0].settings`) are kept: pydantic prefixes them.
        raise ValidationError.from_exception_data(
            cls.__name__, [InitErrorDetails(type=problem, loc=loc, input=value)]
        )


class Page(BaseModel, Generic[T]):
    """A page of a list. Pass ``next_cursor`` as ``?cursor=`` to get the next page."""

    data: list[T]
    next_cursor: str | None = Field(
        default=None, description="Opaque cursor of the next page; null on the last page."
    )
