"""Activities fail for good on a write the database refuses every time, and retry the rest."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy.exc
from psycopg import errors as pg_errors
from temporalio.exceptions import ApplicationError

from agent_runtime_worker.activities.errors import (
    DATABASE_REJECTED_WRITE,
    classify_database_errors,
    is_deterministic_database_error,
)


def wrapped(cls: type[sqlalchemy.exc.DBAPIError], orig: Exception) -> Exception:
    return cls("UPDATE human_requests SET answer=%(answer)s", {}, orig)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
        wrapped(sqlalchemy.exc.DataError, psycopg.DataError("invalid input syntax for type json")),
        wrapped(sqlalchemy.exc.IntegrityError, pg_errors.UniqueViolation("duplicate key")),
        sqlalchemy.exc.StatementError("bind failed", "SELECT 1", {}, psycopg.DataError("NUL")),
    ],
    ids=["driver_data_error", "data_error", "integrity_error", "bind_error"],
)
def test_deterministic_database_errors_are_recognised(error: Exception) -> None:
    assert is_deterministic_database_error(error)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(sqlalchemy.exc.OperationalError, psycopg.OperationalError("connection lost")),
        wrapped(sqlalchemy.exc.OperationalError, pg_errors.SerializationFailure("could not serialize")),
        pg_errors.DeadlockDetected("deadlock detected"),
        ConnectionResetError(),
        TimeoutError(),
    ],
    ids=["connection_lost", "serialization_failure", "deadlock", "reset", "timeout"],
)
def test_transient_errors_stay_retryable(error: Exception) -> None:
    assert not is_deterministic_database_error(error)


async def test_a_refused_write_fails_the_activity_for_good_with_the_database_message() -> None:
    @classify_database_errors
    async def write() -> None:
        raise wrapped(
            sqlalchemy.exc.DataError, psycopg.DataError("text fields cannot contain NUL (0x00) bytes")
        )

    with pytest.raises(ApplicationError) as refused:
        await write()
    assert refused.value.type == DATABASE_REJECTED_WRITE
    assert refused.value.non_retryable
    assert "cannot contain NUL" in refused.value.message


async def test_a_transient_failure_passes_through_for_temporal_to_retry() -> None:
    lost = wrapped(sqlalchemy.exc.OperationalError, psycopg.OperationalError("server closed the connection"))

    @classify_database_errors
    async def write() -> None:
        raise lost

    with pytest.raises(sqlalchemy.exc.OperationalError) as raised:
        await write()
    assert raised.value is lost
