"""The SDK must not drift from the server it ships with.

The SDK's models are written by hand (readable, documented, lenient), so nothing keeps them in
step with the API but this test. It builds the API's OpenAPI document from the app itself and
compares, member by member, each client model, each request ``TypedDict`` and each method that
builds a request body with the component schema it stands for: the same names, the same
required-ness, the same types once both sides are normalised (an enum is a string to a lenient
client; a reference is compared by the component it names). It also checks that the SDK's enums
list every value the server's do, that every response schema of the API has a client model (or
is knowingly left out), and that the async resources mirror the sync ones.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter

import agent_runtime_client as sdk
from agent_runtime_client import _async_resources as async_resources
from agent_runtime_client import _models as models
from agent_runtime_client import _resources as resources

Shape = Any
"""A normalised type: a string (``"integer"``), a tuple (``("array", item)``, ``("model", name)``,
``("object", value)``, ``("string", format)``), or a frozenset of those (a union)."""

RESPONSE_MODELS: list[tuple[Any, str]] = [
    (sdk.Agent, "AgentPublic"),
    (sdk.AgentVersion, "AgentVersionPublic"),
    (sdk.AgentTool, "ToolPublic"),
    (sdk.ToolRef, "ToolRefPublic"),
    (sdk.McpServer, "McpServerPublic"),
    (sdk.ModelSettings, "ModelSettings"),
    (sdk.RunLimits, "Limits"),
    (sdk.HttpEndpoint, "HttpEndpointPublic"),
    (sdk.HttpRetry, "HttpRetryPublic"),
    (sdk.AgentStatus, "AgentStatusPublic"),
    (sdk.ActiveRunCounts, "ActiveRunCounts"),
    (sdk.AgentLastError, "AgentLastError"),
    (sdk.Run, "RunPublic"),
    (sdk.RunError, "RunError"),
    (sdk.RunUsage, "RunUsage"),
    (sdk.RunEvent, "RunEventPublic"),
    (sdk.Approval, "ApprovalPublic"),
    (sdk.ApprovalInboxItem, "ApprovalInboxItem"),
    (sdk.Question, "InputRequestPublic"),
    (sdk.QuestionInboxItem, "QuestionInboxItem"),
    (sdk.Thread, "ThreadPublic"),
    (sdk.ThreadSummary, "ThreadSummaryPublic"),
    (sdk.ThreadMessage, "ThreadMessagePublic"),
    (sdk.Artifact, "ArtifactPublic"),
    (sdk.PresignedRequest, "PresignedRequestPublic"),
    (sdk.ArtifactUpload, "ArtifactUploadPublic"),
    (sdk.ArtifactDownloadUrl, "ArtifactDownloadUrl"),
    (sdk.StoreItem, "StoreItemPublic"),
    (sdk.StoreSearchItem, "StoreSearchItemPublic"),
    (models.StoreSearchResult, "StoreSearchResult"),
    (models.StoreNamespaces, "StoreNamespaces"),
    (sdk.ToolDefinition, "ToolDefinitionPublic"),
    (sdk.ToolRevision, "ToolRevisionPublic"),
    (sdk.CatalogTool, "CatalogToolPublic"),
    (models.CatalogList, "CatalogList"),
    (sdk.Secret, "SecretPublic"),
    (sdk.SigningKey, "SigningKeyPublic"),
    (sdk.SigningKeyCreated, "SigningKeyCreated"),
    (sdk.ApiKey, "ApiKeyPublic"),
    (sdk.ApiKeyCreated, "ApiKeyCreated"),
    (sdk.Budget, "BudgetPublic"),
    (sdk.BudgetLimitStatus, "BudgetLimitStatus"),
    (sdk.ModelPrice, "ModelPricePublic"),
    (sdk.UsageTotals, "UsageTotals"),
    (sdk.UsageReport, "UsageReport"),
    (sdk.EffectiveLimit, "EffectiveLimit"),
    (sdk.TenantLimits, "TenantLimitsPublic"),
    (sdk.EffectiveRetention, "EffectiveRetention"),
    (sdk.TenantRetention, "TenantRetentionPublic"),
    (sdk.Problem, "Problem"),
    (sdk.FieldError, "ProblemFieldError"),
]

REQUEST_PARAMS: list[tuple[Any, str]] = [
    (sdk.AgentVersionParams, "AgentVersionCreate"),
    (sdk.ToolParams, "ToolSpec"),
    (sdk.RegisteredToolParams, "RegisteredToolRef"),
    (sdk.HttpEndpointParams, "HttpEndpointSpec"),
    (sdk.HttpRetryParams, "HttpRetrySpec"),
    (sdk.McpServerParams, "McpServerSpec"),
    (sdk.ModelSettingsParams, "ModelSettings"),
    (sdk.RunLimitsParams, "Limits"),
    (sdk.MemoryParams, "MemorySpec"),
    (sdk.MemoryNamespaceParams, "MemoryNamespaceSpec"),
    (sdk.ContextParams, "ContextSpec"),
]

_NEW = frozenset({"idempotency_key"})

BODY_METHODS: list[tuple[Callable[..., Any], str, frozenset[str]]] = [
    (resources.Agents.create, "AgentCreate", _NEW),
    (resources.Agents.update, "AgentUpdate", frozenset({"agent_id"})),
    (resources.AgentVersions.create, "AgentVersionCreate", _NEW | {"agent_id"}),
    (resources.Runs.create, "RunCreate", _NEW),
    (resources.Approvals.decide, "ApprovalDecision", frozenset({"run_id", "approval_id"})),
    (resources.Questions.answer, "InputAnswer", frozenset({"run_id"})),
    (resources.Threads.create, "ThreadCreate", _NEW),
    (resources.Threads.update, "ThreadUpdate", frozenset({"thread_id"})),
    (resources.Store.put, "StoreItemPut", frozenset()),
    (resources.Store.search, "StoreSearch", frozenset()),
    (resources.Store.list_namespaces, "StoreNamespaceList", frozenset()),
    (resources.Tools.create, "ToolDefinitionCreate", _NEW),
    (resources.Tools.update, "ToolDefinitionCreate", frozenset({"tool_id"})),
    (resources.Secrets.create, "SecretCreate", _NEW),
    (resources.Secrets.update, "SecretUpdate", frozenset({"name"})),
    (resources.SigningKeys.rotate, "SigningKeyRotate", _NEW),
    (resources.ApiKeys.create, "ApiKeyCreate", _NEW),
    (resources.Usage.set_budgets, "BudgetUpdate", frozenset()),
    (resources.Usage.set_price, "ModelPriceUpdate", frozenset({"provider", "model", "scope"})),
    (resources.Limits.set_tenant, "TenantLimitsUpdate", frozenset({"tenant_id"})),
    (resources.Retention.set_tenant, "TenantRetentionUpdate", frozenset({"tenant_id"})),
    (resources.Artifacts.start_upload, "ArtifactUploadCreate", frozenset()),
]
"""Methods whose keyword arguments are a request body, and their arguments that are not (path,
query and header arguments)."""

ENUMS: list[tuple[type[StrEnum], str]] = [
    (sdk.RunStatus, "RunStatus"),
    (sdk.EventType, "EventType"),
    (sdk.HumanRequestStatus, "HumanRequestStatus"),
    (sdk.ThreadStatus, "ThreadStatus"),
    (sdk.MultitaskStrategy, "MultitaskStrategy"),
    (sdk.AgentStatusName, "AgentStatusName"),
    (sdk.Role, "Role"),
    (sdk.Permission, "Permission"),
]

NOT_IN_THE_SDK = frozenset(
    {
        "Health",  # /healthz: for load balancers
        "AuditLogEntryPublic",  # the audit log: admins read it in the API's docs UI or with curl
        "AuditOutcome",
        "ProviderEndpointList",  # circuit breakers: the platform operators' tooling
        "ProviderEndpointPublic",
        "BreakerSettingsPublic",
    }
)
"""Response schemas the SDK knowingly has no model for."""


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    """The API's OpenAPI document, as the app serves it at /openapi.json."""
    from agent_runtime_api.main import create_app
    from agent_runtime_core.settings import Settings

    settings = Settings.model_validate({"database_url": "postgresql+psycopg://unused@127.0.0.1:1/unused"})
    return create_app(settings).openapi()


# ----------------------------------------------------------------------------- normalising


def _server_name(name: str) -> str:
    return name.removesuffix("-Input").removesuffix("-Output")


def _flatten(shapes: Iterable[Shape]) -> frozenset[Shape]:
    flat: set[Shape] = set()
    for shape in shapes:
        flat |= shape if isinstance(shape, frozenset) else {shape}
    return frozenset(flat)


def shape(schema: Mapping[str, Any], defs: Mapping[str, Any], names: Mapping[str, str]) -> Shape:
    """``schema`` normalised so that a client's and the server's can be compared."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = defs[name]
        if "enum" in target:
            return "string"  # a lenient client reads every enum as a string
        return ("model", names.get(name, _server_name(name)))
    for union in ("anyOf", "oneOf"):
        if union in schema:
            members = _flatten(shape(member, defs, names) for member in schema[union])
            return members if len(members) > 1 else next(iter(members))
    if "enum" in schema or "const" in schema:
        return "string"
    kind = schema.get("type")
    if kind is None:
        return "any"
    if isinstance(kind, list):
        types: list[str] = kind
        return _flatten(shape({**schema, "type": one}, defs, names) for one in types)
    if kind == "array":
        return ("array", shape(schema.get("items", {}), defs, names))
    if kind == "object" and "properties" in schema:  # a model written inline (a top-level one)
        return ("model", names.get(schema["title"], schema["title"]))
    if kind == "object":
        extra = schema.get("additionalProperties", True)
        return ("object", shape(extra, defs, names) if isinstance(extra, dict) else "any")
    if kind == "string" and schema.get("format") in ("date-time", "date"):
        return ("string", schema["format"])
    return kind


def members(
    schema: Mapping[str, Any], defs: Mapping[str, Any], names: Mapping[str, str]
) -> dict[str, tuple[Shape, bool]]:
    """Each property of an object schema: its normalised type and whether it is required."""
    required = set(schema.get("required", ()))
    return {
        name: (shape(prop, defs, names), name in required)
        for name, prop in schema.get("properties", {}).items()
    }


def _differences(
    what: str, client: Mapping[str, tuple[Shape, bool]], server: Mapping[str, tuple[Shape, bool]]
) -> list[str]:
    found: list[str] = []
    for name in sorted(client.keys() - server.keys()):
        found.append(f"{what}.{name}: the server has no such member")
    for name in sorted(server.keys() - client.keys()):
        found.append(f"{what}.{name}: missing from the SDK (server: {server[name]})")
    for name in sorted(client.keys() & server.keys()):
        (client_type, client_required), (server_type, server_required) = client[name], server[name]
        if client_type != server_type:
            found.append(f"{what}.{name}: type {client_type} in the SDK, {server_type} on the server")
        if client_required != server_required:
            found.append(
                f"{what}.{name}: required {client_required} in the SDK, {server_required} on the server"
            )
    return found


def _client_schema(cls: Any, mode: str) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = TypeAdapter(cls).json_schema(mode=mode, ref_template="#/$defs/{model}")  # pyright: ignore[reportArgumentType]
    defs: dict[str, Any] = schema.get("$defs", {})
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema, defs


def _names(pairs: list[tuple[Any, str]]) -> dict[str, str]:
    return {cls.__name__: server for cls, server in pairs}


# ----------------------------------------------------------------------------------- tests


@pytest.mark.parametrize(("cls", "component"), RESPONSE_MODELS, ids=[c for _, c in RESPONSE_MODELS])
def test_response_models_match_the_openapi_document(
    cls: type[BaseModel], component: str, openapi: dict[str, Any]
) -> None:
    server_defs = openapi["components"]["schemas"]
    client_schema, client_defs = _client_schema(cls, "serialization")
    client = members(client_schema, client_defs, _names(RESPONSE_MODELS))
    server = members(server_defs[component], server_defs, {})
    assert cls.model_config.get("extra") == "allow", "response models keep unknown members"
    assert not _differences(cls.__name__, client, server)


def test_pages_match_the_openapi_document(openapi: dict[str, Any]) -> None:
    server_defs = openapi["components"]["schemas"]
    client_schema, client_defs = _client_schema(sdk.Page[sdk.Agent], "serialization")
    client = members(client_schema, client_defs, _names(RESPONSE_MODELS))
    server = members(server_defs["Page_AgentPublic_"], server_defs, {})
    assert not _differences("Page", client, server)


@pytest.mark.parametrize(("cls", "component"), REQUEST_PARAMS, ids=[c for _, c in REQUEST_PARAMS])
def test_request_params_match_the_openapi_document(cls: Any, component: str, openapi: dict[str, Any]) -> None:
    server_defs = openapi["components"]["schemas"]
    client_schema, client_defs = _client_schema(cls, "validation")
    client = members(client_schema, client_defs, _names(REQUEST_PARAMS))
    server = members(server_defs[component], server_defs, {})
    assert not _differences(cls.__name__, client, server)


def _without_null(shape: Shape) -> Shape:
    if isinstance(shape, frozenset):
        rest = frozenset(member for member in shape if member != "null")  # pyright: ignore[reportUnknownVariableType]
        return next(iter(rest)) if len(rest) == 1 else rest  # pyright: ignore[reportUnknownArgumentType]
    return shape


@pytest.mark.parametrize(
    ("method", "component", "not_body"),
    BODY_METHODS,
    ids=[f"{m.__qualname__}-{c}" for m, c, _ in BODY_METHODS],
)
def test_methods_take_exactly_the_request_bodys_members(
    method: Callable[..., Any], component: str, not_body: frozenset[str], openapi: dict[str, Any]
) -> None:
    """A method's arguments are the body's members: same names, required where the server
    requires them, same types (an optional argument's ``None`` means "left out")."""
    server_defs = openapi["components"]["schemas"]
    server = members(server_defs[component], server_defs, {})
    hints = typing.get_type_hints(method, include_extras=True)
    names = _names(REQUEST_PARAMS)
    client: dict[str, tuple[Shape, bool]] = {}
    for name, parameter in inspect.signature(method).parameters.items():
        if name == "self" or name in not_body:
            continue
        schema = TypeAdapter(hints[name]).json_schema(mode="validation", ref_template="#/$defs/{model}")
        defs = schema.get("$defs", {})
        required = parameter.default is inspect.Parameter.empty
        client[name] = (shape(schema, defs, names), required)
    for name, (server_type, server_required) in list(server.items()):
        if not server_required and name in client:
            server[name] = (_without_null(server_type), False)
            client_type, client_required = client[name]
            client[name] = (_without_null(client_type), client_required)
    assert not _differences(method.__qualname__, client, server)


@pytest.mark.parametrize(("enum", "component"), ENUMS, ids=[c for _, c in ENUMS])
def test_enums_list_every_value_the_server_has(
    enum: type[StrEnum], component: str, openapi: dict[str, Any]
) -> None:
    assert sorted(member.value for member in enum) == sorted(
        openapi["components"]["schemas"][component]["enum"]
    )


def test_every_response_schema_has_a_client_model(openapi: dict[str, Any]) -> None:
    """A new resource of the API fails here until the SDK has a model for it (or says why not)."""
    covered = {component for _, component in RESPONSE_MODELS} | {component for _, component in ENUMS}
    referenced: set[str] = set()
    for operations in openapi["paths"].values():
        for operation in operations.values():
            for response in operation["responses"].values():
                for content in response.get("content", {}).values():
                    ref = content.get("schema", {}).get("$ref")
                    if ref:
                        referenced.add(_server_name(ref.rsplit("/", 1)[-1]))
    pages = {name for name in referenced if name.startswith("Page_")}
    items = {name.removeprefix("Page_").removesuffix("_") for name in pages}
    missing = (referenced - pages) | items
    assert sorted(missing - covered - NOT_IN_THE_SDK) == []


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if not name.startswith("_") and callable(member)
    }


@pytest.mark.parametrize("name", resources.__all__)
def test_async_resources_mirror_the_sync_ones(name: str) -> None:
    sync_cls, async_cls = getattr(resources, name), getattr(async_resources, f"Async{name}")
    sync_methods, async_methods = _public_methods(sync_cls), _public_methods(async_cls)
    assert sync_methods.keys() == async_methods.keys()
    for method, signature in sync_methods.items():
        parameters = [(p.name, p.kind, p.default) for p in signature.parameters.values()]
        mirrored = [(p.name, p.kind, p.default) for p in async_methods[method].parameters.values()]
        assert parameters == mirrored, method
