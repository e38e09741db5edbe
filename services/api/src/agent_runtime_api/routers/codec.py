"""``/v1/temporal/codec``: the codec server of the Temporal Web UI and CLI (Temporal's protocol).

``POST /v1/temporal/codec/decode`` and ``/encode`` take and answer ``{"payloads": [...]}`` in
protobuf JSON; the ``X-Namespace`` header, when sent, must name our namespace. Point the UI at
``https://<api>/v1/temporal/codec`` (its codec endpoint; it appends ``/decode``).

Who may call it: payloads carry no tenant (a history's ciphertext does not say whose run it is),
so no tenant-level rule can keep one tenant from decoding another's payloads. Decoding is
therefore a platform operation: ``payloads:decode`` (admins have it; a dedicated API key can be
scoped to it alone) counts only in the operators' tenant, like ``providers:manage``. Every call
is audited (``temporal_payloads.decode``), with its payload count, never the payloads.

Not in the OpenAPI document: it is Temporal's protocol, not part of our REST API.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Depends, Header, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from agent_runtime_api.audit import add_audit_details
from agent_runtime_api.body_limit import body_limit
from agent_runtime_api.deps import (
    AppStateDep,
    CodecServiceDep,
    api_key_scheme,
    authenticate,
    bearer_scheme,
    get_principal,
    require_platform_operator,
)
from agent_runtime_core.auth import Permission, Principal
from agent_runtime_core.errors import InvalidRequestError
from agent_runtime_core.settings import DEFAULT_TENANT_ID, Settings

CODEC_PREFIX: Final = "/v1/temporal/codec"
CODEC_MAX_BODY_BYTES: Final = 16 * 1024 * 1024
"""A batch of payloads as the UI sends them (each at most Temporal's 2 MB, base64-encoded)."""
PROXY_HEADERS: Final = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")

LOCAL_DEV_PRINCIPAL: Final = Principal(
    tenant_id=DEFAULT_TENANT_ID,
    subject="local-dev",
    auth_method="dev",
    scopes=frozenset({Permission.PAYLOADS_DECODE.value}),
)
"""Who a credential-less call from this machine is with ``temporal_codec_local_dev_access``."""

router = APIRouter(prefix=CODEC_PREFIX, tags=["temporal"], include_in_schema=False)
_require_decoder = require_platform_operator(Permission.PAYLOADS_DECODE)


def is_local_dev_request(request: Request, settings: Settings) -> bool:
    """A call from this machine, straight (no proxy in between), without credentials, from no
    origin or the Temporal UI's: what the embedded Temporal UI of `agent-runtime dev` sends."""
    headers = request.headers
    if any(name in headers for name in PROXY_HEADERS) or "authorization" in headers or "x-api-key" in headers:
        return False
    origin = headers.get("origin")
    if origin is not None and origin not in settings.temporal_codec_cors_origins:
        return False
    host = request.client.host if request.client is not None else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def codec_caller(
    request: Request,
    state: AppStateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    api_key: Annotated[str | None, Security(api_key_scheme)],
) -> Principal:
    """The caller, who must hold ``payloads:decode`` in the operators' tenant (401/403 otherwise);
    in development (``temporal_codec_local_dev_access``), a credential-less call from this machine."""
    if state.settings.temporal_codec_local_dev_access and is_local_dev_request(request, state.settings):
        # Not audited (nobody to attribute it to: the dev UI decodes every payload it shows).
        return LOCAL_DEV_PRINCIPAL
    principal = await get_principal(request, state, bearer, api_key)
    principal = await authenticate(request, principal, state)  # the tenant's rate limits
    return _require_decoder(request, principal)


CodecCaller = Annotated[Principal, Depends(codec_caller)]
Namespace = Annotated[
    str | None, Header(alias="X-Namespace", description="The namespace of the payloads (ours only).")
]


def _payloads(body: dict[str, Any]) -> list[Payload]:
    message = Payloads()
    try:
        json_format.ParseDict(body, message)
    except json_format.ParseError as error:
        raise InvalidRequestError(
            f"The body is not Temporal payloads in protobuf JSON: {error}", loc=["body", "payloads"]
        ) from None
    return list(message.payloads)


def _answer(payloads: list[Payload]) -> JSONResponse:
    return JSONResponse(json_format.MessageToDict(Payloads(payloads=payloads)))


def _check_namespace(namespace: str | None, settings: Settings) -> None:
    if namespace is not None and namespace != settings.temporal_namespace:
        raise InvalidRequestError(
            f"This codec server decodes the payloads of namespace '{settings.temporal_namespace}' only.",
            loc=["header", "X-Namespace"],
            code="namespace_not_served",
        )


@router.post("/decode", openapi_extra=body_limit(CODEC_MAX_BODY_BYTES))
async def decode(
    request: Request,
    body: Annotated[dict[str, Any], Body()],
    service: CodecServiceDep,
    state: AppStateDep,
    _: CodecCaller,
    namespace: Namespace = None,
) -> JSONResponse:
    """Decode payloads: resolve offloaded ones (up to 4 MiB) and decrypt."""
    _check_namespace(namespace, state.settings)
    payloads = _payloads(body)
    add_audit_details(request, payloads=len(payloads), namespace=namespace)
    return _answer(await service.decode(payloads))


@router.post("/encode", openapi_extra=body_limit(CODEC_MAX_BODY_BYTES))
async def encode(
    request: Request,
    body: Annotated[dict[str, Any], Body()],
    service: CodecServiceDep,
    state: AppStateDep,
    _: CodecCaller,
    namespace: Namespace = None,
) -> JSONResponse:
    """Encode payloads (encrypt), e.g. a signal's input typed in the UI."""
    _check_namespace(namespace, state.settings)
    payloads = _payloads(body)
    add_audit_details(request, payloads=len(payloads), namespace=namespace)
    return _answer(await service.encode(payloads))
