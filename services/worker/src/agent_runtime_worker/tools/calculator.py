"""A safe arithmetic calculator tool.

The expression is parsed with `ast` and evaluated by walking a small whitelist of node types;
nothing is ever handed to `eval`/`exec`. Every intermediate value is size-checked so that an
expression such as `9**9**9` is refused up front instead of pinning a worker CPU.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from typing import Annotated, Final, TypeAlias

from pydantic import Field
from pydantic_ai import ModelRetry

__all__ = [
    "MAX_ABS_RESULT",
    "MAX_EXPRESSION_LENGTH",
    "CalculatorResult",
    "calculator",
]

CalculatorResult: TypeAlias = int | float
"""A calculator result: an exact `int` for integer arithmetic, otherwise a `float`."""

MAX_EXPRESSION_LENGTH: Final = 500
"""Longest expression accepted, in characters."""

MAX_ABS_RESULT: Final = 10**300
"""Largest magnitude any intermediate or final value may reach (kept below the float range)."""

_MAX_RESULT_BITS: Final = MAX_ABS_RESULT.bit_length()
_MAX_NESTING_DEPTH: Final = 50

_BinaryOperator: TypeAlias = Callable[[CalculatorResult, CalculatorResult], object]

_BINARY_OPERATORS: Final[dict[type[ast.operator], _BinaryOperator]] = {
    ast.Add: lambda left, right: left + right,
    ast.Sub: lambda left, right: left - right,
    ast.Mult: lambda left, right: left * right,
    ast.Div: lambda left, right: left / right,
    ast.FloorDiv: lambda left, right: left // right,
    ast.Mod: lambda left, right: left % right,
}


def _raw_power(base: CalculatorResult, exponent: CalculatorResult) -> object:
    return base**exponent


_CONSTANTS: Final[dict[str, float]] = {"pi": math.pi, "e": math.e}


def _round(value: CalculatorResult, ndigits: CalculatorResult | None = None) -> CalculatorResult:
    if ndigits is None:
        return round(value)
    if not isinstance(ndigits, int):
        raise ModelRetry("round() takes an integer number of digits, e.g. round(3.14159, 2).")
    return round(value, ndigits)


def _log(value: CalculatorResult, base: CalculatorResult | None = None) -> float:
    return math.log(value) if base is None else math.log(value, base)


def _min(*values: CalculatorResult) -> CalculatorResult:
    return min(values)


def _max(*values: CalculatorResult) -> CalculatorResult:
    return max(values)


# name -> (implementation, minimum arity, maximum arity or None for variadic)
_FUNCTIONS: Final[dict[str, tuple[Callable[..., object], int, int | None]]] = {
    "sqrt": (math.sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "min": (_min, 1, None),
    "max": (_max, 1, None),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "log": (_log, 1, 2),
    "exp": (math.exp, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
}

_ALLOWED_SUMMARY: Final = (
    "Allowed: numbers, + - * / // % **, unary + and -, parentheses, the constants "
    f"{', '.join(sorted(_CONSTANTS))} and the functions {', '.join(sorted(_FUNCTIONS))}."
)


def calculator(
    expression: Annotated[str, Field(min_length=1, max_length=MAX_EXPRESSION_LENGTH)],
) -> CalculatorResult:
    """Evaluate an arithmetic expression and return the numeric result.

    Supports integer and decimal numbers, the operators + - * / // % ** (use ** for powers,
    not ^), unary + and -, parentheses, the constants pi and e, and the functions sqrt, abs,
    round(x[, ndigits]), min, max, floor, ceil, log(x[, base]), exp, sin, cos and tan
    (angles in radians). Integer arithmetic is exact. Variables, strings, comparisons and
    any other Python syntax are rejected.

    Args:
        expression: The expression to evaluate, e.g. `(3 + 4) * 2 ** 10 / sqrt(16)`.
            At most 500 characters.

    Returns:
        The value of the expression, an integer when the arithmetic is exact and a float otherwise.

    Raises:
        ModelRetry: If the expression is malformed, uses anything outside the whitelist,
            divides by zero, leaves a function's domain or produces a number that is too large.
    """
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ModelRetry(
            f"The expression is {len(expression)} characters long; the limit is "
            f"{MAX_EXPRESSION_LENGTH}. Split the calculation into smaller steps."
        )
    if not expression.strip():
        raise ModelRetry("The expression is empty. " + _ALLOWED_SUMMARY)
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise ModelRetry(f"Could not parse {expression!r}: {error.msg}. " + _ALLOWED_SUMMARY) from None
    except (ValueError, MemoryError, RecursionError):
        raise ModelRetry(f"Could not parse {expression!r}. " + _ALLOWED_SUMMARY) from None
    return _evaluate(tree.body, depth=0)


def _evaluate(node: ast.expr, depth: int) -> CalculatorResult:
    if depth > _MAX_NESTING_DEPTH:
        raise ModelRetry(f"The expression is nested more than {_MAX_NESTING_DEPTH} levels deep; simplify it.")
    match node:
        case ast.Constant(value=value):
            # bool is an int subclass, but True/False are not numbers to the calculator.
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ModelRetry(f"Unsupported literal {value!r}. Only numbers are allowed.")
            return _checked(value)
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return _checked(-_evaluate(operand, depth + 1))
        case ast.UnaryOp(op=ast.UAdd(), operand=operand):
            return _evaluate(operand, depth + 1)
        case ast.BinOp(left=left, op=ast.Pow(), right=right):
            return _power(_evaluate(left, depth + 1), _evaluate(right, depth + 1))
        case ast.BinOp(op=ast.BitXor()):
            raise ModelRetry("'^' is not supported; use ** for exponentiation, e.g. 2 ** 8.")
        case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY_OPERATORS:
            left_value = _evaluate(left, depth + 1)
            right_value = _evaluate(right, depth + 1)
            return _apply(_BINARY_OPERATORS[type(op)], left_value, right_value)
        case ast.Name(id=name):
            if name in _CONSTANTS:
                return _CONSTANTS[name]
            raise ModelRetry(f"Unknown name {name!r}. " + _ALLOWED_SUMMARY)
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in _FUNCTIONS:
            function, min_arity, max_arity = _FUNCTIONS[name]
            if len(args) < min_arity or (max_arity is not None and len(args) > max_arity):
                if max_arity is None:
                    expected = f"at least {min_arity}"
                elif max_arity == min_arity:
                    expected = str(min_arity)
                else:
                    expected = f"{min_arity} to {max_arity}"
                raise ModelRetry(f"{name}() takes {expected} argument(s), got {len(args)}.")
            values: list[CalculatorResult] = []
            for argument in args:
                if isinstance(argument, ast.Starred):
                    raise ModelRetry(f"Unpacking (*) is not supported in {name}().")
                values.append(_evaluate(argument, depth + 1))
            return _apply(function, *values)
        case ast.Call(func=ast.Name(id=name)) if name in _FUNCTIONS:
            raise ModelRetry(f"{name}() takes positional arguments only.")
        case ast.Call():
            raise ModelRetry("Only the listed functions can be called. " + _ALLOWED_SUMMARY)
        case _:
            raise ModelRetry(
                f"Unsupported syntax ({type(node).__name__}) in the expression. " + _ALLOWED_SUMMARY
            )


def _power(base: CalculatorResult, exponent: CalculatorResult) -> CalculatorResult:
    # Estimate the size of the result before computing it: `9 ** 387420489` would take minutes
    # and gigabytes, so it must be refused without being attempted. log2|result| equals
    # exponent * log2|base|, which also covers tiny bases with negative exponents (0.5 ** -5000).
    if base != 0 and exponent != 0:
        estimated_bits = float(exponent) * math.log2(abs(base))
        if estimated_bits > _MAX_RESULT_BITS:
            raise ModelRetry(
                f"{base} ** {exponent} is too large; results must stay below 1e300 in magnitude."
            )
    return _apply(_raw_power, base, exponent)


def _apply(function: Callable[..., object], *arguments: CalculatorResult) -> CalculatorResult:
    try:
        result = function(*arguments)
    except ZeroDivisionError:
        raise ModelRetry("Division by zero (or zero raised to a negative power) is undefined.") from None
    except OverflowError:
        raise ModelRetry("The result is too large; results must stay below 1e300.") from None
    except ValueError as error:
        # e.g. log(0), sqrt(-1): outside the function's domain.
        raise ModelRetry(f"Math domain error ({error}); check the function's arguments.") from None
    if isinstance(result, complex):
        # A negative base raised to a fractional power, e.g. (-8) ** (1/3).
        raise ModelRetry("The result is a complex number; only real results are supported.")
    if isinstance(result, bool) or not isinstance(result, int | float):
        raise ModelRetry("The expression did not produce a number.")  # pragma: no cover
    return _checked(result)


def _checked(value: CalculatorResult) -> CalculatorResult:
    if isinstance(value, float):
        if math.isnan(value):
            raise ModelRetry("The result is not a number (NaN).")
        if math.isinf(value) or abs(value) > MAX_ABS_RESULT:
            raise ModelRetry("The result is too large; results must stay below 1e300.")
    elif abs(value) > MAX_ABS_RESULT:
        raise ModelRetry("The result is too large; results must stay below 1e300.")
    return value
