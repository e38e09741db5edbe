"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from agent_runtime_api.deps import AppStateDep
from agent_runtime_core.errors import ServiceUnavailableError

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Probe result."""

    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"] | None = None
    temporal: Literal["ok", "unavailable"] | None = None


@router.get("/healthz", summary="Liveness")
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", summary="Readiness", responses={503: {"model": Health}})
async def readyz(state: AppStateDep) -> JSONResponse:
    """The database and Temporal are reachable."""
    database: Literal["ok", "unavailable"] = "ok"
    temporal: Literal["ok", "unavailable"] = "ok"
    try:
        async with state.database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        database = "unavailable"
    try:
        client = await state.temporal.client()
        await client.service_client.check_health()
    except (ServiceUnavailableError, RuntimeError, Exception):
        temporal = "unavailable"
    ok = database == "ok" and temporal == "ok"
    body = Health(status="ok" if ok else "unavailable", database=database, temporal=temporal)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
