"""Properties: bad input is always a 4xx problem (never a 5xx), and idempotency holds."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .support import make_agent

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
agent_fields = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=120), st.integers(), st.none()),
        "description": st.one_of(st.text(max_size=50), st.integers()),
        "version": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"model": st.sampled_from(["builtin:scripted", "openai:gpt-4o", "nope", "", "builtin:x"])},
                optional={
                    "tools": st.lists(
                        st.fixed_dictionaries({"name": st.sampled_from(["calculator", "http_get", "bad"])}),
                        max_size=3,
                    ),
                    "limits": st.dictionaries(
                        st.sampled_from(["max_requests", "run_timeout_s", "max_total_tokens", "other"]),
                        st.integers(min_value=-5, max_value=10**12),
                    ),
                    "model_settings": st.dictionaries(
                        st.sampled_from(["temperature", "max_tokens"]),
                        st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
                    ),
                },
            ),
        ),
        "extra": json_values,
    },
)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_client_error_or_success(response: httpx.Response, success: int) -> None:
    assert response.status_code < 500, response.text
    if response.status_code != success:
        assert 400 <= response.status_code < 500
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["code"]
        if response.status_code == 422:
            assert problem["errors"], problem
            assert all(error["loc"] for error in problem["errors"])


@FAST
@given(body=st.one_of(agent_fields, json_values))
async def test_any_agent_body_is_created_or_rejected_as_a_problem(
    runtime_api: httpx.AsyncClient, body: Any
) -> None:
    if isinstance(body, dict) and isinstance(body.get("name"), str):
        body["name"] = f"{body['name']}{uuid.uuid4().hex[:6]}"  # no accidental name clashes
    response = await runtime_api.post("/v1/agents", json=body)
    assert_client_error_or_success(response, 201)
    if response.status_code == 201:
        assert (await runtime_api.get(f"/v1/agents/{response.json()['id']}")).status_code == 200


@FAST
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "agent_id": st.one_of(st.text(max_size=50), st.integers(), st.just("agt_missing")),
            "agent_version": st.one_of(st.integers(min_value=-2, max_value=3), st.text(max_size=3)),
            "input": st.one_of(st.text(max_size=30), st.integers(), st.none()),
            "other": json_values,
        },
    ),
    key=st.one_of(st.none(), st.text(max_size=300)),
)
async def test_any_run_body_is_accepted_or_rejected_as_a_problem(
    runtime_api: httpx.AsyncClient, body: dict[str, Any], key: str | None
) -> None:
    headers: list[tuple[bytes, bytes]] = []
    if key is not None:
        headers.append((b"Idempotency-Key", key.encode("latin-1", "replace")))  # raw header bytes
    response = await runtime_api.post("/v1/runs", json=body, headers=headers)
    assert_client_error_or_success(response, 202)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    requests=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["one", "two"])), min_size=1, max_size=6
    )
)
async def test_idempotency_key_maps_to_exactly_one_run_per_key(
    runtime_api: httpx.AsyncClient, requests: list[tuple[str, str]]
) -> None:
    agent_id = await make_agent(runtime_api)
    namespace = uuid.uuid4().hex
    first_body: dict[str, str] = {}
    run_for_key: dict[str, str] = {}
    for key, text in requests:
        scoped_key = f"{namespace}-{key}"
        response = await runtime_api.post(
            "/v1/runs", json={"agent_id": agent_id, "input": text}, headers={"Idempotency-Key": scoped_key}
        )
        if key not in first_body:
            first_body[key] = text
        if text == first_body[key]:
            assert response.status_code == 202, response.text
            run_id = response.json()["id"]
            assert run_for_key.setdefault(key, run_id) == run_id
        else:
            assert response.status_code == 422
            assert response.json()["code"] == "idempotency_key_reused"
    listed = (await runtime_api.get("/v1/runs", params={"agent_id": agent_id, "limit": 100})).json()["data"]
    assert sorted(run["id"] for run in listed) == sorted(run_for_key.values())
