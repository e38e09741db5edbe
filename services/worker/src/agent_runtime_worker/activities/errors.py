"""Which activity failures Temporal retries: one classification for every activity of the worker.

The worker's bookkeeping activities retry until the database answers (``maximum_attempts=0``),
which is right for a database that is down or a transaction that lost a race, and wrong for a
write the database will refuse every time: a NUL character in a text field, a value out of
range, a constraint violation. Retrying those never ends, and the run waits forever.

:func:`classify_database_errors` wraps an activity (or code running inside one) so that a
*deterministic* database failure raises a non-retryable ``ApplicationError`` of type
:data:`DATABASE_REJECTED_WRITE`, with the database's message: the run (or the human request)
ends with a readable error. Everything else (connection lost, ``OperationalError``,
serialization failures, timeouts) passes through unchanged and Temporal retries it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import CoroutineType
from typing import Any, Final, ParamSpec, TypeVar

import psycopg
import sqlalchemy.exc
from temporalio.exceptions import ApplicationError

DATABASE_REJECTED_WRITE: Final = "DatabaseRejectedWrite"
"""``ApplicationError.type`` of an activity whose write the database refuses whatever the attempt."""

_DETERMINISTIC_DRIVER_ERRORS: Final = (psycopg.DataError, psycopg.IntegrityError)
"""psycopg's classes for errors retrying cannot fix: invalid data (bad input syntax, a value
out of range, "PostgreSQL text fields cannot contain NUL (0x00) bytes") and constraint
violations. ``OperationalError`` (connection lost, serialization failure, deadlock) is not here."""

_DETERMINISTIC_SQLALCHEMY_ERRORS: Final = (sqlalchemy.exc.DataError, sqlalchemy.exc.IntegrityError)

P = ParamSpec("P")
R = TypeVar("R")


def is_deterministic_database_error(error: BaseException) -> bool:
    """Whether ``error`` is a database failure that another attempt would meet again."""
    if isinstance(error, _DETERMINISTIC_SQLALCHEMY_ERRORS + _DETERMINISTIC_DRIVER_ERRORS):
        return True
    # SQLAlchemy wraps driver errors raised while binding parameters in a bare StatementError.
    return isinstance(error, sqlalchemy.exc.StatementError) and isinstance(
        error.orig, _DETERMINISTIC_DRIVER_ERRORS
    )


def database_rejected_write(error: BaseException) -> ApplicationError:
    """The non-retryable failure for a deterministic database error (its message, readable)."""
    original = getattr(error, "orig", None) or error
    message = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return ApplicationError(
        f"the database refused the write: {message}", type=DATABASE_REJECTED_WRITE, non_retryable=True
    )


def classify_database_errors(
    function: Callable[P, CoroutineType[Any, Any, R]],
) -> Callable[P, CoroutineType[Any, Any, R]]:
    """Make a deterministic database failure of ``function`` non-retryable (see the module doc)."""

    @functools.wraps(function)
    async def classified(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await function(*args, **kwargs)
        except Exception as error:
            if is_deterministic_database_error(error):
                raise database_rejected_write(error) from error
            raise

    return classified
