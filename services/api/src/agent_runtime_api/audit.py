"""The audit log: every mutating ``/v1`` call by an authenticated principal, refused ones too.

:class:`AuditMiddleware` (pure ASGI, inside the request-id middleware) watches POST, PUT, PATCH
and DELETE under ``/v1``. When the response status is known, before the response is sent, it
writes one entry in a transaction of its own, as the caller's tenant: so the call's own failure
(rolled back) still gets its entry, and a client that got its answer finds the entry already
there. If the write fails, the error is logged loudly (``AUDIT WRITE FAILED``) and the response
goes out unchanged: an audit outage never turns a success into a 500.

Not recorded: calls without an authenticated principal (401s: nobody to attribute them to) and
calls refused by the request rate limiter (a flood must not become database writes; they are
logged by the limiter). Handlers add small non-secret context with :func:`add_audit_details`.

Action names are stable (``ROUTE_ACTIONS``); a mutating route missing from the table gets a
name derived from its path (``/v1/api-keys/{id}/revoke`` → ``api_keys.revoke``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from fastapi import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_runtime_core.auth import Principal
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.ids import new_audit_id
from agent_runtime_core.models import AuditLogEntry
from agent_runtime_core.repositories import AuditLogRepository
from agent_runtime_core.schemas import AuditOutcome

logger = logging.getLogger(__name__)

MUTATING_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DENIED_STATUSES: Final = frozenset({401, 403, 404, 429})


@dataclass(frozen=True)
class AuditAction:
    """How a route is recorded: action name, resource type, and where the resource id comes from
    (a path parameter, or ``None``: the ``Location`` of the created resource)."""

    action: str
    resource_type: str
    id_param: str | None = None


ROUTE_ACTIONS: Final[dict[tuple[str, str], AuditAction]] = {
    ("POST", "/v1/agents"): AuditAction("agents.create", "agent"),
    ("PATCH", "/v1/agents/{agent_id}"): AuditAction("agents.update", "agent", "agent_id"),
    ("DELETE", "/v1/agents/{agent_id}"): AuditAction("agents.delete", "agent", "agent_id"),
    ("POST", "/v1/agents/{agent_id}/versions"): AuditAction("agents.versions.create", "agent", "agent_id"),
    ("POST", "/v1/tools"): AuditAction("tools.create", "tool"),
    ("PUT", "/v1/tools/{tool_id}"): AuditAction("tools.update", "tool", "tool_id"),
    ("DELETE", "/v1/tools/{tool_id}"): AuditAction("tools.delete", "tool", "tool_id"),
    ("POST", "/v1/runs"): AuditAction("runs.create", "run"),
    ("POST", "/v1/runs/{run_id}/cancel"): AuditAction("runs.cancel", "run", "run_id"),
    ("POST", "/v1/runs/{run_id}/approvals/{approval_id}"): AuditAction(
        "approvals.decide", "approval", "approval_id"
    ),
    ("POST", "/v1/runs/{run_id}/input"): AuditAction("inputs.answer", "run", "run_id"),
    ("POST", "/v1/api-keys"): AuditAction("api_keys.create", "api_key"),
    ("DELETE", "/v1/api-keys/{key_id}"): AuditAction("api_keys.revoke", "api_key", "key_id"),
    ("POST", "/v1/secrets"): AuditAction("secrets.create", "secret"),
    ("PUT", "/v1/secrets/{name}"): AuditAction("secrets.update", "secret", "name"),
    ("DELETE", "/v1/secrets/{name}"): AuditAction("secrets.delete", "secret", "name"),
    ("POST", "/v1/tools/signing-keys"): AuditAction("signing_keys.rotate", "signing_key"),
    ("POST", "/v1/threads"): AuditAction("threads.create", "thread"),
    ("PATCH", "/v1/threads/{thread_id}"): AuditAction("threads.update", "thread", "thread_id"),
    ("DELETE", "/v1/threads/{thread_id}"): AuditAction("threads.delete", "thread", "thread_id"),
    ("POST", "/v1/threads/{thread_id}/copy"): AuditAction("threads.copy", "thread"),
    ("PUT", "/v1/store/items"): AuditAction("store_items.put", "store_item"),
    ("POST", "/v1/artifacts"): AuditAction("artifacts.create", "artifact"),
    ("POST", "/v1/artifacts/uploads"): AuditAction("artifacts.upload_start", "artifact"),
    ("POST", "/v1/artifacts/{artifact_id}/complete"): AuditAction(
        "artifacts.upload_complete", "artifact", "artifact_id"
    ),
    ("DELETE", "/v1/artifacts/{artifact_id}"): AuditAction("artifacts.delete", "artifact", "artifact_id"),
    ("DELETE", "/v1/store/items"): AuditAction("store_items.delete", "store_item"),
    ("PUT", "/v1/budgets"): AuditAction("budgets.update", "budget"),
    ("PUT", "/v1/model-prices/{provider}/{model}"): AuditAction("model_prices.set", "model_price", "model"),
    ("DELETE", "/v1/model-prices/{provider}/{model}"): AuditAction(
        "model_prices.delete", "model_price", "model"
    ),
    ("POST", "/v1/admin/providers/{endpoint_id}/reset"): AuditAction(
        "providers.reset", "provider_endpoint", "endpoint_id"
    ),
    ("PUT", "/v1/admin/tenants/{tenant_id}/limits"): AuditAction(
        "tenant_limits.set", "tenant_limits", "tenant_id"
    ),
    ("DELETE", "/v1/admin/tenants/{tenant_id}/limits"): AuditAction(
        "tenant_limits.reset", "tenant_limits", "tenant_id"
    ),
    ("PUT", "/v1/admin/tenants/{tenant_id}/retention"): AuditAction(
        "tenant_retention.set", "tenant_retention", "tenant_id"
    ),
    ("DELETE", "/v1/admin/tenants/{tenant_id}/retention"): AuditAction(
        "tenant_retention.reset", "tenant_retention", "tenant_id"
    ),
    # Reading prompts in clear: who decoded how many payloads (never the payloads).
    ("POST", "/v1/temporal/codec/decode"): AuditAction("temporal_payloads.decode", "temporal_payload"),
    ("POST", "/v1/temporal/codec/encode"): AuditAction("temporal_payloads.encode", "temporal_payload"),
}


READ_ONLY_POSTS: Final = frozenset({("POST", "/v1/store/items/search"), ("POST", "/v1/store/namespaces")})
"""POSTs that only read (a search body too rich for a query string): not audited."""


def derived_action(method: str, path_template: str) -> AuditAction:
    """A name for a mutating route missing from :data:`ROUTE_ACTIONS`."""
    parts = [p for p in path_template.removeprefix("/v1/").split("/") if p]
    resource = parts[0].replace("-", "_") if parts else "root"
    params = [p[1:-1] for p in parts if p.startswith("{")]
    last = parts[-1] if parts else ""
    if method == "POST" and last and not last.startswith("{") and len(parts) > 1:
        verb = last.replace("-", "_")
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}[method]
    return AuditAction(f"{resource}.{verb}", resource.removesuffix("s"), params[-1] if params else None)


def action_for(method: str, route: BaseRoute | None, path: str) -> AuditAction:
    """The audit action of a call (by its matched route's template)."""
    template = getattr(route, "path", None) or path
    return ROUTE_ACTIONS.get((method, template)) or derived_action(method, template)


def outcome_for(status_code: int) -> AuditOutcome:
    """success (2xx/3xx), denied (401/403/404/429) or failed (anything else)."""
    if status_code < 400:
        return AuditOutcome.SUCCESS
    if status_code in DENIED_STATUSES:
        return AuditOutcome.DENIED
    return AuditOutcome.FAILED


def add_audit_details(request: Request, **details: str | int | bool | None) -> None:
    """Add small, non-secret context to this call's audit entry (never bodies or secrets)."""
    current: dict[str, Any] = getattr(request.state, "audit_details", None) or {}
    current.update({key: value for key, value in details.items() if value is not None})
    request.state.audit_details = current


class AuditMiddleware:
    """Writes the audit entry of each mutating ``/v1`` call (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in MUTATING_METHODS
            or not str(scope["path"]).startswith("/v1/")
            or (scope["method"], str(scope["path"])) in READ_ONLY_POSTS
        ):
            await self.app(scope, receive, send)
            return
        recorded = False

        async def send_audited(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and not recorded:
                recorded = True
                await self._record(scope, int(message["status"]), message.get("headers", []))
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        except Exception:
            if not recorded:  # unhandled: the server answers 500
                await self._record(scope, 500, [])
            raise

    async def _record(self, scope: Scope, status_code: int, headers: list[tuple[bytes, bytes]]) -> None:
        state: dict[str, Any] = scope.get("state", {})
        principal = state.get("principal")
        if not isinstance(principal, Principal) or state.get("rate_limited"):
            return
        try:
            entry = self._entry(scope, state, principal, status_code, headers)
            database: Database = scope["app"].state.agent_runtime.database
            async with session_scope(database, principal.tenant_id) as session:
                await AuditLogRepository(session, principal.tenant_id).add(entry)
        except Exception:
            logger.exception(
                "AUDIT WRITE FAILED: %s %s by %s (tenant %s) answered %s was not recorded",
                scope["method"],
                scope["path"],
                principal.subject,
                principal.tenant_id,
                status_code,
            )

    @staticmethod
    def _entry(
        scope: Scope,
        state: dict[str, Any],
        principal: Principal,
        status_code: int,
        headers: list[tuple[bytes, bytes]],
    ) -> AuditLogEntry:
        method = str(scope["method"])
        path = str(scope["path"])
        spec = action_for(method, scope.get("route"), path)
        path_params: dict[str, Any] = scope.get("path_params", {})
        location = next((v.decode("latin-1") for k, v in headers if k.lower() == b"location"), None)
        if spec.id_param is not None:
            resource_id = path_params.get(spec.id_param)
        else:
            resource_id = location.rstrip("/").rsplit("/", 1)[-1] if location and status_code < 400 else None
        details: dict[str, Any] = {
            key: str(value) for key, value in path_params.items() if key != spec.id_param
        }
        if location and status_code < 400:
            details["location"] = location
        details.update(state.get("audit_details") or {})
        return AuditLogEntry(
            id=new_audit_id(),
            tenant_id=principal.tenant_id,
            actor=principal.subject[:200],
            auth_method=principal.auth_method,
            api_key_id=principal.api_key_id,
            action=spec.action,
            resource_type=spec.resource_type,
            resource_id=str(resource_id)[:200] if resource_id is not None else None,
            request_id=state.get("request_id"),
            method=method,
            path=path[:500],
            status_code=status_code,
            outcome=outcome_for(status_code).value,
            details=details,
        )
