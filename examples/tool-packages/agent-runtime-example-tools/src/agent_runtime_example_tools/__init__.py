"""An example Agent Runtime tool package: ``word_count`` and ``unit_convert``.

Both tools are offline and deterministic. The package registers them with the worker through the
``agent_runtime.tools`` entry point group (see ``pyproject.toml``): the entry point names
:data:`TOOLS`, a list of plain functions. Each function's name is the tool's name, its docstring
is what the model reads, and its type hints become the JSON schema the arguments are validated
against before the call. A tool receives only its arguments; an error the model should correct is
raised as ``pydantic_ai.ModelRetry``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, Field
from pydantic_ai import ModelRetry

__all__ = ["TOOLS", "Conversion", "TextStatistics", "unit_convert", "word_count"]

MAX_TEXT_LENGTH: Final = 1_000_000

_WORD = re.compile(r"\b[\w'\u2019-]+\b")  # \u2019: the typographic apostrophe
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


class TextStatistics(BaseModel):
    """What ``word_count`` counted."""

    words: int
    characters: int
    characters_without_spaces: int
    lines: int
    sentences: int


def word_count(text: Annotated[str, Field(max_length=MAX_TEXT_LENGTH)]) -> TextStatistics:
    """Count the words, characters, lines and sentences of a text.

    Use this instead of counting yourself: it is exact. Words are runs of letters, digits,
    apostrophes and hyphens; a sentence ends with '.', '!' or '?'.

    Args:
        text: The text to count, exactly as it should be counted.

    Returns:
        The number of words, characters (with and without whitespace), lines and sentences.
    """
    stripped = text.strip()
    sentences = len(_SENTENCE_END.findall(stripped))
    if stripped and stripped[-1] not in ".!?":
        sentences += 1  # a last sentence without its full stop still counts
    return TextStatistics(
        words=len(_WORD.findall(text)),
        characters=len(text),
        characters_without_spaces=sum(not char.isspace() for char in text),
        lines=len(text.splitlines()) if text else 0,
        sentences=sentences,
    )


Unit = Literal[
    "mm", "cm", "m", "km", "in", "ft", "yd", "mi", "nmi",
    "mg", "g", "kg", "t", "oz", "lb", "st",
    "ml", "l", "m3", "tsp", "tbsp", "cup", "pt", "qt", "gal",
    "s", "min", "h", "day", "week",
    "C", "F", "K",
]  # fmt: skip

# Exact factors to the quantity's base unit (metre, kilogram, litre, second); US customary volumes.
_FACTORS: Final[dict[str, dict[str, Decimal]]] = {
    "length": {
        "mm": Decimal("0.001"),
        "cm": Decimal("0.01"),
        "m": Decimal(1),
        "km": Decimal(1000),
        "in": Decimal("0.0254"),
        "ft": Decimal("0.3048"),
        "yd": Decimal("0.9144"),
        "mi": Decimal("1609.344"),
        "nmi": Decimal(1852),
    },
    "mass": {
        "mg": Decimal("0.000001"),
        "g": Decimal("0.001"),
        "kg": Decimal(1),
        "t": Decimal(1000),
        "oz": Decimal("0.028349523125"),
        "lb": Decimal("0.45359237"),
        "st": Decimal("6.35029318"),
    },
    "volume": {
        "ml": Decimal("0.001"),
        "l": Decimal(1),
        "m3": Decimal(1000),
        "tsp": Decimal("0.00492892159375"),
        "tbsp": Decimal("0.01478676478125"),
        "cup": Decimal("0.2365882365"),
        "pt": Decimal("0.473176473"),
        "qt": Decimal("0.946352946"),
        "gal": Decimal("3.785411784"),
    },
    "time": {
        "s": Decimal(1),
        "min": Decimal(60),
        "h": Decimal(3600),
        "day": Decimal(86400),
        "week": Decimal(604800),
    },
}
_TEMPERATURES: Final = ("C", "F", "K")


class Conversion(BaseModel):
    """The result of ``unit_convert``."""

    value: float
    from_unit: str
    to_unit: str
    result: float
    quantity: str
    """``length``, ``mass``, ``volume``, ``time`` or ``temperature``."""


def _quantity(unit: str) -> str:
    if unit in _TEMPERATURES:
        return "temperature"
    return next(quantity for quantity, factors in _FACTORS.items() if unit in factors)


def _to_kelvin(value: Decimal, unit: str) -> Decimal:
    if unit == "C":
        return value + Decimal("273.15")
    if unit == "F":
        return (value - 32) * 5 / 9 + Decimal("273.15")
    return value


def _from_kelvin(value: Decimal, unit: str) -> Decimal:
    if unit == "C":
        return value - Decimal("273.15")
    if unit == "F":
        return (value - Decimal("273.15")) * 9 / 5 + 32
    return value


def unit_convert(value: float, from_unit: Unit, to_unit: Unit) -> Conversion:
    """Convert a value from one unit to another of the same quantity, exactly.

    Supported units: length mm, cm, m, km, in, ft, yd, mi, nmi; mass mg, g, kg, t, oz, lb, st;
    volume (US customary) ml, l, m3, tsp, tbsp, cup, pt, qt, gal; time s, min, h, day, week;
    temperature C, F, K (degrees Celsius, Fahrenheit, kelvin).

    Args:
        value: The amount to convert, e.g. 3.5.
        from_unit: The unit of `value`, e.g. `km`.
        to_unit: The unit to convert to, e.g. `mi`; must measure the same quantity as `from_unit`.

    Returns:
        The converted value (rounded to 10 significant digits) and the quantity measured.
    """
    quantity = _quantity(from_unit)
    if _quantity(to_unit) != quantity:
        raise ModelRetry(
            f"Cannot convert {quantity} ({from_unit}) to {_quantity(to_unit)} ({to_unit}): "
            "both units must measure the same quantity."
        )
    amount = Decimal(repr(value))
    if quantity == "temperature":
        converted = _from_kelvin(_to_kelvin(amount, from_unit), to_unit)
    else:
        factors = _FACTORS[quantity]
        converted = amount * factors[from_unit] / factors[to_unit]
    return Conversion(
        value=value,
        from_unit=from_unit,
        to_unit=to_unit,
        result=float(f"{converted:.10g}"),
        quantity=quantity,
    )


TOOLS: Final[list[Callable[..., Any]]] = [word_count, unit_convert]
"""What the ``agent_runtime.tools`` entry point ``example`` loads: the package's tools."""
