"""The codec server (``/v1/temporal/codec``): Temporal's Web UI and CLI decode encrypted and
offloaded payloads through it, and only the platform's operators may."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from agent_runtime_core.db import Database
from agent_runtime_core.settings import DEFAULT_TENANT_ID, Settings
from agent_runtime_core.temporal import AGENT_RUN_WORKFLOW, AgentConfig, AgentRunInput
from agent_runtime_core.temporal.data_converter import close_data_converter, data_converter_from_settings
from agent_runtime_core.temporal.payload_encryption import ENCRYPTED_ENCODING

from .support import assert_problem, build_authenticating_app, issue_api_key, open_client, served

DECODE, ENCODE = "/v1/temporal/codec/decode", "/v1/temporal/codec/encode"
UI_ORIGIN = "http://temporal-ui.test:8233"
PAYLOAD_KEYS = {"k1": base64.b64encode(os.urandom(32)).decode()}
SECRET = "my card number is 4111-1111-1111-1111"


def codec_settings(database_url: str, s3_settings: dict[str, object], **overrides: object) -> dict[str, Any]:
    return {
        "database_url": database_url,
        "temporal_address": "127.0.0.1:1",  # the codec server never calls Temporal
        **s3_settings,
        "temporal_payload_keys": PAYLOAD_KEYS,
        "temporal_payload_active_key_id": "k1",
        "temporal_codec_cors_origins": [UI_ORIGIN],
        **overrides,
    }


@dataclass
class Codec:
    api: httpx.AsyncClient
    converter: DataConverter
    """The workers' converter (same settings): what it writes, the endpoint must read."""
    operator_key: str
    """An admin API key of the operators' tenant."""
    settings: Settings


@pytest.fixture
async def codec(
    database_url: str, database: Database, s3_settings: dict[str, object]
) -> AsyncGenerator[Codec]:
    settings = codec_settings(database_url, s3_settings)
    converter = data_converter_from_settings(Settings.model_validate(settings))
    _, operator_key = await issue_api_key(database, DEFAULT_TENANT_ID, ["admin"], name="codec-test")
    try:
        async for api in open_client(build_authenticating_app(**settings)):
            yield Codec(api, converter, operator_key, Settings.model_validate(settings))
    finally:
        await close_data_converter(converter)


def body_of(payloads: list[Payload]) -> dict[str, Any]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


def payloads_of(response: httpx.Response) -> list[Payload]:
    assert response.status_code == 200, response.text
    message = Payloads()
    json_format.ParseDict(response.json(), message)
    return list(message.payloads)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_an_operator_decodes_what_the_workers_encrypted(codec: Codec) -> None:
    written = await codec.converter.encode([{"prompt": SECRET}])
    assert written[0].metadata["encoding"] == ENCRYPTED_ENCODING
    response = await codec.api.post(
        DECODE, json=body_of(written), headers={**bearer(codec.operator_key), "X-Namespace": "default"}
    )
    [decoded] = payloads_of(response)
    assert decoded.metadata["encoding"] == b"json/plain"
    assert json.loads(decoded.data) == {"prompt": SECRET}
    assert SECRET not in json.dumps(body_of(written))


async def test_encode_then_decode_round_trips(codec: Codec) -> None:
    plain = pydantic_data_converter.payload_converter.to_payloads([{"signal": SECRET}])
    encoded = payloads_of(
        await codec.api.post(ENCODE, json=body_of(plain), headers=bearer(codec.operator_key))
    )
    assert encoded[0].metadata["encoding"] == ENCRYPTED_ENCODING
    assert await codec.converter.decode(encoded) == [{"signal": SECRET}]  # the workers read it
    decoded = payloads_of(
        await codec.api.post(DECODE, json=body_of(encoded), headers=bearer(codec.operator_key))
    )
    assert decoded == plain


async def test_offloaded_payloads_are_fetched_and_decrypted_up_to_4_mib(codec: Codec) -> None:
    medium, huge = "m" * 300_000, "h" * 5_000_000
    [medium_ref, huge_ref] = await codec.converter.encode([medium, huge])
    assert medium_ref.metadata["messageType"] == b"temporal.api.sdk.v1.ExternalStorageReference"
    response = await codec.api.post(
        DECODE, json=body_of([medium_ref, huge_ref]), headers=bearer(codec.operator_key)
    )
    [decoded_medium, still_a_reference] = payloads_of(response)
    assert json.loads(decoded_medium.data) == medium
    assert still_a_reference == huge_ref  # too large to show: its reference says where it is
    # A reference to another bucket is not followed (the endpoint reads our payloads only).
    foreign = Payload()
    foreign.CopyFrom(medium_ref)
    assert codec.settings.s3_bucket is not None
    foreign.data = medium_ref.data.replace(codec.settings.s3_bucket.encode(), b"someone-elses-bucket")
    assert payloads_of(
        await codec.api.post(DECODE, json=body_of([foreign]), headers=bearer(codec.operator_key))
    ) == [foreign]


async def test_plain_payloads_pass_through_and_unknown_keys_are_422(codec: Codec) -> None:
    plain = pydantic_data_converter.payload_converter.to_payloads(["written before encryption"])
    assert (
        payloads_of(await codec.api.post(DECODE, json=body_of(plain), headers=bearer(codec.operator_key)))
        == plain
    )
    [encrypted] = await codec.converter.encode(["x"])
    encrypted.metadata["encryption-key-id"] = b"retired"
    response = await codec.api.post(DECODE, json=body_of([encrypted]), headers=bearer(codec.operator_key))
    problem = assert_problem(response, 422, "payload_not_decodable")
    assert "'retired'" in problem["detail"]
    response = await codec.api.post(
        DECODE, json={"payloads": [{"data": "not base64!"}]}, headers=bearer(codec.operator_key)
    )
    assert_problem(response, 422, "validation_error")


async def test_only_the_operators_tenant_with_payloads_decode_may_call(
    codec: Codec, database: Database, tenant_id: str
) -> None:
    written = body_of(await codec.converter.encode([SECRET]))
    assert_problem(await codec.api.post(DECODE, json=written), 401, "unauthorized")
    assert_problem(
        await codec.api.post(DECODE, json=written, headers=bearer("ar_bogus")), 401, "unauthorized"
    )
    # A customer's admin holds payloads:decode, but it counts only in the operators' tenant:
    # payloads carry no tenant, so a tenant's admin could otherwise read everyone's prompts.
    _, customer_admin = await issue_api_key(database, tenant_id, ["admin"])
    problem = assert_problem(
        await codec.api.post(DECODE, json=written, headers=bearer(customer_admin)), 403, "forbidden"
    )
    assert "payloads:decode" in problem["detail"] and DEFAULT_TENANT_ID in problem["detail"]
    # In the operators' tenant: operators and developers may not; a key scoped to it alone may.
    _, operator_role = await issue_api_key(database, DEFAULT_TENANT_ID, ["operator", "developer"])
    assert_problem(
        await codec.api.post(ENCODE, json=written, headers=bearer(operator_role)), 403, "forbidden"
    )
    _, dedicated = await issue_api_key(database, DEFAULT_TENANT_ID, ["admin"], scopes=["payloads:decode"])
    assert (
        json.loads(payloads_of(await codec.api.post(DECODE, json=written, headers=bearer(dedicated)))[0].data)
        == SECRET
    )
    # The X-API-Key header works as everywhere else.
    assert (await codec.api.post(DECODE, json=written, headers={"X-API-Key": dedicated})).status_code == 200


async def test_another_namespace_is_refused(codec: Codec) -> None:
    written = body_of(await codec.converter.encode([SECRET]))
    response = await codec.api.post(
        DECODE, json=written, headers={**bearer(codec.operator_key), "X-Namespace": "other"}
    )
    problem = assert_problem(response, 422, "namespace_not_served")
    assert problem["errors"][0]["loc"] == ["header", "X-Namespace"]


async def test_each_decode_is_audited_without_the_payloads(codec: Codec, database: Database) -> None:
    key_id, key = await issue_api_key(database, DEFAULT_TENANT_ID, ["admin"], name="auditor")
    written = body_of(await codec.converter.encode([SECRET, SECRET]))
    assert (await codec.api.post(DECODE, json=written, headers=bearer(key))).status_code == 200
    entries = (
        await codec.api.get(
            "/v1/audit-log",
            params={"action": "temporal_payloads.decode", "actor": key_id},
            headers=bearer(key),
        )
    ).json()["data"]
    assert len(entries) == 1, entries
    assert entries[0]["details"]["payloads"] == 2 and entries[0]["outcome"] == "success"
    assert SECRET not in json.dumps(entries)


async def test_cors_admits_the_temporal_ui_origin_only(codec: Codec) -> None:
    preflight = await codec.api.options(
        DECODE,
        headers={
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == UI_ORIGIN
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "X-Namespace" in preflight.headers["access-control-allow-headers"]
    refused = await codec.api.options(
        DECODE, headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"}
    )
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    written = body_of(await codec.converter.encode([SECRET]))
    answered = await codec.api.post(
        DECODE, json=written, headers={**bearer(codec.operator_key), "Origin": UI_ORIGIN}
    )
    assert answered.status_code == 200 and answered.headers["access-control-allow-origin"] == UI_ORIGIN
    denied = await codec.api.post(DECODE, json=written, headers={"Origin": UI_ORIGIN})
    assert denied.status_code == 401 and denied.headers["access-control-allow-origin"] == UI_ORIGIN
    # The UI's origin reaches the codec endpoint and nothing else.
    other = await codec.api.get("/v1/agents", headers={**bearer(codec.operator_key), "Origin": UI_ORIGIN})
    assert "access-control-allow-origin" not in other.headers


async def test_local_dev_access_admits_this_machine_without_credentials_only(
    database_url: str, s3_settings: dict[str, object]
) -> None:
    settings = codec_settings(database_url, s3_settings, temporal_codec_local_dev_access=True)
    converter = data_converter_from_settings(Settings.model_validate(settings))
    try:
        written = body_of(await converter.encode([SECRET]))
        async for api in open_client(build_authenticating_app(**settings)):  # ASGI client: 127.0.0.1
            local = await api.post(DECODE, json=written, headers={"Origin": UI_ORIGIN})
            assert json.loads(payloads_of(local)[0].data) == SECRET
            for refused in (
                {"X-Forwarded-For": "203.0.113.9"},
                {"Forwarded": "for=203.0.113.9"},
                {"Origin": "https://evil.test"},
            ):
                assert_problem(await api.post(DECODE, json=written, headers=refused), 401, "unauthorized")
        app = build_authenticating_app(**settings)
        async with app.router.lifespan_context(app):
            remote = httpx.ASGITransport(app=app, client=("203.0.113.9", 5000))
            async with httpx.AsyncClient(transport=remote, base_url="http://api.test") as api:
                assert_problem(await api.post(DECODE, json=written), 401, "unauthorized")
    finally:
        await close_data_converter(converter)
    # Off (the default): this machine needs credentials like any other.
    async for api in open_client(build_authenticating_app(**codec_settings(database_url, s3_settings))):
        assert_problem(await api.post(DECODE, json=written), 401, "unauthorized")


async def test_the_temporal_cli_shows_a_history_decoded_through_the_endpoint(
    database_url: str, s3_settings: dict[str, object], temporal_env: WorkflowEnvironment, database: Database
) -> None:
    """`temporal workflow show --codec-endpoint … --codec-auth 'Bearer <key>'`, as an operator
    would run it, against a run whose history holds only ciphertext."""
    from agent_runtime_cli.embedded.binaries import temporal_cli_path

    settings = Settings.model_validate(codec_settings(database_url, s3_settings))
    converter = data_converter_from_settings(settings)
    _, key = await issue_api_key(database, DEFAULT_TENANT_ID, ["admin"], scopes=["payloads:decode"])
    config = temporal_env.client.config()
    config["data_converter"] = converter
    workflow_id = f"run-codec-{uuid.uuid4().hex[:8]}"
    run_input = AgentRunInput(
        run_id="run_codec",
        tenant_id="ten_codec",
        input=SECRET,
        agent=AgentConfig(agent_id="agt_codec", agent_name="codec", version=1, model="builtin:scripted"),
    )
    handle = await Client(**config).start_workflow(
        AGENT_RUN_WORKFLOW, run_input, id=workflow_id, task_queue=f"nobody-{uuid.uuid4()}"
    )
    try:
        address = temporal_env.client.service_client.config.target_host
        command = [
            str(temporal_cli_path()),
            "workflow",
            "show",
            "-w",
            workflow_id,
            "--address",
            address,
            "-o",
            "json",
        ]
        async with served(settings) as url:
            plain = await _run(command)
            decoded = await _run(
                [*command, "--codec-endpoint", f"{url}/v1/temporal/codec", "--codec-auth", f"Bearer {key}"]
            )
            refused = await _run(
                [*command, "--codec-endpoint", f"{url}/v1/temporal/codec", "--codec-auth", "Bearer ar_bogus"],
                check=False,
            )
    finally:
        await handle.terminate("test over")
        await close_data_converter(converter)
    assert _first_input_encoding(plain) == b"binary/encrypted"
    shown = _first_input(decoded)
    assert base64.b64decode(shown["metadata"]["encoding"]) == b"json/plain"
    assert json.loads(base64.b64decode(shown["data"]))["input"] == SECRET
    # A refused key: the CLI shows nothing decoded (it gives up: "failed getting next history event").
    assert refused.startswith("Error:") and _b64("json/plain") not in refused


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def _run(command: list[str], *, check: bool = True) -> str:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    if check:
        assert process.returncode == 0, err.decode()
    return out.decode() + err.decode()


def _first_input_encoding(output: str) -> bytes:
    return base64.b64decode(_first_input(output)["metadata"]["encoding"])


def _first_input(output: str) -> dict[str, Any]:
    history = json.loads(output)
    events = history["events"] if isinstance(history, dict) else history
    return events[0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
