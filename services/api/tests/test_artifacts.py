"""Artifacts: files of a tenant, bytes in a real S3 API (SeaweedFS from PyPI), metadata in Postgres."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncGenerator, AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import Request

from agent_runtime_api.deps import get_principal
from agent_runtime_core.auth import Principal
from agent_runtime_core.db import Database, session_scope
from agent_runtime_core.repositories import ArtifactRepository
from agent_runtime_core.settings import Settings
from agent_runtime_core.storage import ObjectStorage

from .support import assert_problem, build_app, client_for, open_client


@pytest.fixture
async def api(
    database_url: str, tenant_id: str, other_tenant_id: str, s3_settings: dict[str, object]
) -> AsyncGenerator[httpx.AsyncClient]:
    """The API with real object storage; requests act as ``tenant_id`` unless ``X-Test-Tenant``
    names ``other_tenant_id``."""
    app = build_app(database_url, tenant_id, temporal_address="127.0.0.1:1", **s3_settings)

    def principal(request: Request) -> Principal:
        tenant = request.headers.get("x-test-tenant", tenant_id)
        assert tenant in (tenant_id, other_tenant_id)
        return Principal(tenant_id=tenant, subject=f"user-of-{tenant}")

    app.dependency_overrides[get_principal] = principal
    async for client in open_client(app):
        yield client


@pytest.fixture
def other(other_tenant_id: str) -> dict[str, str]:
    """Headers acting as the other tenant."""
    return {"x-test-tenant": other_tenant_id}


async def upload(
    api: httpx.AsyncClient,
    content: bytes,
    *,
    name: str = "notes.txt",
    content_type: str = "text/plain",
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await api.post(
        "/v1/artifacts", files={"file": (name, content, content_type)}, params=params, headers=headers
    )


async def raw_upload(api: httpx.AsyncClient, filename: str) -> httpx.Response:
    """A multipart upload whose filename goes on the wire as is (clients escape quotes and
    control characters; an attacker's need not)."""
    body = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename.encode()
        + b'"\r\nContent-Type: text/plain\r\n\r\nx\r\n--xyz--\r\n'
    )
    return await api.post(
        "/v1/artifacts", content=body, headers={"content-type": "multipart/form-data; boundary=xyz"}
    )


async def test_a_file_is_uploaded_read_downloaded_and_deleted(api: httpx.AsyncClient, tenant_id: str) -> None:
    created = await upload(api, b"hello artifacts")
    assert created.status_code == 201, created.text
    artifact = created.json()
    assert created.headers["location"] == f"/v1/artifacts/{artifact['id']}"
    assert artifact["id"].startswith("art_")
    assert artifact["name"] == "notes.txt" and artifact["content_type"] == "text/plain"
    assert artifact["size"] == 15 and artifact["status"] == "ready"
    assert artifact["sha256"] == hashlib.sha256(b"hello artifacts").hexdigest()
    assert artifact["created_by"] == f"user-of-{tenant_id}"
    assert artifact["run_id"] is None and artifact["thread_id"] is None
    assert "object_key" not in artifact

    assert (await api.get(f"/v1/artifacts/{artifact['id']}")).json() == artifact
    content = await api.get(f"/v1/artifacts/{artifact['id']}/content")
    assert content.status_code == 200 and content.content == b"hello artifacts"
    assert content.headers["content-type"].startswith("text/plain")
    assert content.headers["content-length"] == "15"
    assert content.headers["content-disposition"] == (
        "attachment; filename=\"notes.txt\"; filename*=UTF-8''notes.txt"
    )
    assert content.headers["etag"] == f'"{artifact["sha256"]}"'
    assert content.headers["x-content-type-options"] == "nosniff"
    cached = await api.get(
        f"/v1/artifacts/{artifact['id']}/content", headers={"If-None-Match": content.headers["etag"]}
    )
    assert cached.status_code == 304 and cached.content == b""

    link = (await api.get(f"/v1/artifacts/{artifact['id']}/download-url")).json()
    async with httpx.AsyncClient() as storage:
        direct = await storage.get(link["url"])
        assert direct.status_code == 200 and direct.content == b"hello artifacts"
        assert direct.headers["content-disposition"].startswith('attachment; filename="notes.txt"')

        assert (await api.delete(f"/v1/artifacts/{artifact['id']}")).status_code == 204
        assert (await storage.get(link["url"])).status_code == 404  # the object is gone too
    for path in ("", "/content", "/download-url"):
        assert_problem(await api.get(f"/v1/artifacts/{artifact['id']}{path}"), 404, "artifact_not_found")
    assert (await api.delete(f"/v1/artifacts/{artifact['id']}")).status_code == 204  # idempotent
    assert_problem(await api.delete("/v1/artifacts/art_never"), 404, "artifact_not_found")
    assert (await api.get("/v1/artifacts")).json()["data"] == []
    entries = (await api.get("/v1/audit-log", params={"resource_id": artifact["id"]})).json()["data"]
    assert [e["action"] for e in entries] == ["artifacts.delete", "artifacts.delete", "artifacts.create"]


async def test_a_file_larger_than_one_storage_part_streams_through(api: httpx.AsyncClient) -> None:
    data = os.urandom(9 * 1024 * 1024 + 7)  # more than one 8 MiB part: a multipart upload
    created = await upload(api, data, name="blob.bin", content_type="application/octet-stream")
    assert created.status_code == 201, created.text
    assert created.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert created.json()["size"] == len(data)
    content = await api.get(f"/v1/artifacts/{created.json()['id']}/content")
    assert content.content == data


async def test_artifacts_are_listed_by_run_and_by_thread(api: httpx.AsyncClient) -> None:
    thread = (await api.post("/v1/threads", json={})).json()["id"]
    agent = await api.post("/v1/agents", json={"name": "art", "version": {"model": "builtin:scripted"}})
    # Temporal is unreachable here: the run is written, only its start fails (503).
    await api.post("/v1/runs", json={"agent_id": agent.json()["id"], "input": "hi"})
    run = (await api.get("/v1/runs")).json()["data"][0]["id"]

    of_thread = (await upload(api, b"t", params={"thread_id": thread})).json()
    of_run = (await upload(api, b"r", params={"run_id": run})).json()
    loose = (await upload(api, b"l")).json()
    assert of_thread["thread_id"] == thread and of_run["run_id"] == run

    listed = (await api.get("/v1/artifacts", params={"thread_id": thread})).json()["data"]
    assert [a["id"] for a in listed] == [of_thread["id"]]
    listed = (await api.get("/v1/artifacts", params={"run_id": run})).json()["data"]
    assert [a["id"] for a in listed] == [of_run["id"]]
    first = (await api.get("/v1/artifacts", params={"limit": 2})).json()
    assert [a["id"] for a in first["data"]] == [loose["id"], of_run["id"]]
    second = (await api.get("/v1/artifacts", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    assert [a["id"] for a in second["data"]] == [of_thread["id"]] and second["next_cursor"] is None
    assert (await api.get("/v1/artifacts", params={"status": "pending"})).json()["data"] == []

    assert_problem(await upload(api, b"x", params={"run_id": "run_none"}), 404, "run_not_found")
    assert_problem(await upload(api, b"x", params={"thread_id": "thr_none"}), 404, "thread_not_found")


async def test_a_large_file_goes_straight_to_the_storage_with_a_presigned_url(api: httpx.AsyncClient) -> None:
    data = os.urandom(300_000)
    started = await api.post(
        "/v1/artifacts/uploads",
        json={
            "name": "data.bin",
            "content_type": "application/octet-stream",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest().upper(),
        },
    )
    assert started.status_code == 201, started.text
    body = started.json()
    artifact_id = body["artifact"]["id"]
    assert started.headers["location"] == f"/v1/artifacts/{artifact_id}"
    assert body["artifact"]["status"] == "pending"
    assert body["upload"]["method"] == "PUT"
    assert body["upload"]["headers"]["Content-Length"] == str(len(data))
    assert body["upload"]["headers"]["x-amz-server-side-encryption"] == "AES256"
    assert_problem(await api.get(f"/v1/artifacts/{artifact_id}/content"), 409, "artifact_not_ready")
    assert_problem(await api.post(f"/v1/artifacts/{artifact_id}/complete"), 409, "artifact_not_uploaded")
    assert (await raw_upload(api, "plain name.txt")).status_code == 201  # the raw helper works

    async with httpx.AsyncClient() as storage:
        url, headers = body["upload"]["url"], body["upload"]["headers"]
        # The signature pins the size and the content: neither a shorter file nor other bytes pass.
        short = {**headers, "Content-Length": "10"}
        assert (await storage.put(url, content=data[:10], headers=short)).status_code == 403
        assert (await storage.put(url, content=os.urandom(len(data)), headers=headers)).status_code in (
            400,
            403,
        )
        assert (await storage.put(url, content=data, headers=headers)).status_code == 200

    completed = await api.post(f"/v1/artifacts/{artifact_id}/complete")
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "ready"
    assert completed.json()["sha256"] == hashlib.sha256(data).hexdigest()
    assert (await api.post(f"/v1/artifacts/{artifact_id}/complete")).json() == completed.json()
    assert (await api.get(f"/v1/artifacts/{artifact_id}/content")).content == data


async def test_a_presigned_upload_without_a_checksum_is_hashed_on_completion(api: httpx.AsyncClient) -> None:
    started = (
        await api.post("/v1/artifacts/uploads", json={"name": "a.csv", "content_type": "text/csv", "size": 4})
    ).json()
    assert started["artifact"]["sha256"] is None
    async with httpx.AsyncClient() as storage:
        upload_request = started["upload"]
        response = await storage.put(
            upload_request["url"], content=b"a,b\n", headers=upload_request["headers"]
        )
        assert response.status_code == 200
    completed = (await api.post(f"/v1/artifacts/{started['artifact']['id']}/complete")).json()
    assert completed["sha256"] == hashlib.sha256(b"a,b\n").hexdigest()


async def test_another_tenants_artifact_is_a_404_everywhere_and_urls_cannot_be_forged(
    api: httpx.AsyncClient, other: dict[str, str]
) -> None:
    mine = (await upload(api, b"secret of tenant one")).json()
    theirs = (await upload(api, b"belongs to tenant two", headers=other)).json()
    for method, path in (
        ("GET", ""),
        ("GET", "/content"),
        ("GET", "/download-url"),
        ("POST", "/complete"),
        ("DELETE", ""),
    ):
        response = await api.request(method, f"/v1/artifacts/{mine['id']}{path}", headers=other)
        assert_problem(response, 404, "artifact_not_found")
    listed = (await api.get("/v1/artifacts", headers=other)).json()["data"]
    assert [a["id"] for a in listed] == [theirs["id"]]

    # The other tenant holds a valid URL for its own object; pointing it at ours breaks the signature.
    mine_url = urlsplit((await api.get(f"/v1/artifacts/{mine['id']}/download-url")).json()["url"])
    theirs_url = urlsplit(
        (await api.get(f"/v1/artifacts/{theirs['id']}/download-url", headers=other)).json()["url"]
    )
    assert "/tenants/" in mine_url.path and mine_url.path != theirs_url.path
    forged = theirs_url._replace(path=mine_url.path).geturl()
    async with httpx.AsyncClient() as storage:
        assert (await storage.get(theirs_url.geturl())).content == b"belongs to tenant two"
        refused = await storage.get(forged)
        assert refused.status_code == 403 and b"SignatureDoesNotMatch" in refused.content
        # Nor does a presigned upload URL write anywhere but its own key.
        started = (
            await api.post(
                "/v1/artifacts/uploads",
                json={"name": "x.txt", "content_type": "text/plain", "size": 5},
                headers=other,
            )
        ).json()
        upload_url = urlsplit(started["upload"]["url"])
        overwrite = upload_url._replace(path=mine_url.path).geturl()
        response = await storage.put(overwrite, content=b"owned", headers=started["upload"]["headers"])
        assert response.status_code == 403
    assert (await api.get(f"/v1/artifacts/{mine['id']}/content")).content == b"secret of tenant one"


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "a/b.txt",
        "a\\b.txt",
        "..",
        ".",
        "bad\x01name",
        "tab\tname",
        "rtl\u202etxt.exe",
        " ",
    ],
)
async def test_file_names_that_are_paths_or_hold_control_characters_are_refused(
    api: httpx.AsyncClient, name: str
) -> None:
    problem = assert_problem(await raw_upload(api, name), 422, "invalid_file_name")
    assert problem["errors"][0]["loc"] == ["body", "file"]
    started = await api.post(
        "/v1/artifacts/uploads", json={"name": name, "content_type": "text/plain", "size": 1}
    )
    problem = assert_problem(started, 422, "invalid_file_name")
    assert problem["errors"][0]["loc"] == ["body", "name"]


async def test_bad_uploads_get_clear_client_errors(api: httpx.AsyncClient) -> None:
    problem = assert_problem(await upload(api, b""), 422, "empty_file")
    assert problem["errors"][0]["loc"] == ["body", "file"]
    problem = assert_problem(
        await upload(api, b"<b>hi</b>", content_type="text/html"), 422, "content_type_not_allowed"
    )
    assert problem["errors"][0]["loc"] == ["body", "file"] and "text/html" in problem["detail"]
    assert_problem(await upload(api, b"x", content_type="not a type"), 422, "invalid_content_type")
    assert_problem(await raw_upload(api, ""), 422, "invalid_file_name")
    assert_problem(await upload(api, b"x", name=""), 422, "file_missing")  # httpx sends no filename
    assert_problem(await api.post("/v1/artifacts", json={"file": "x"}), 415, "unsupported_media_type")
    problem = assert_problem(
        await api.post("/v1/artifacts", files={"document": ("a.txt", b"x", "text/plain")}),
        422,
        "unexpected_field",
    )
    assert problem["errors"][0]["loc"] == ["body", "document"]
    two_files = await api.post(
        "/v1/artifacts",
        files=[("file", ("a.txt", b"x", "text/plain")), ("file", ("b.txt", b"y", "text/plain"))],
    )
    assert_problem(two_files, 422, "unexpected_field")
    assert (await api.get("/v1/artifacts")).json()["data"] == []  # nothing of those was kept
    cut_off = await api.post(
        "/v1/artifacts",
        content=b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nabc',
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert_problem(cut_off, 400, "malformed_multipart")

    for body, loc in (
        ({"name": "a", "content_type": "text/plain", "size": 0}, "size"),
        ({"name": "a", "content_type": "text/plain", "size": 6 * 1024**3}, "size"),
        ({"name": "a", "content_type": "text/plain", "size": 1, "sha256": "abc"}, "sha256"),
        ({"name": "a", "content_type": "image/svg+xml", "size": 1}, "content_type"),
    ):
        response = await api.post("/v1/artifacts/uploads", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"][:2] == ["body", loc], response.text


async def test_an_upload_in_progress_is_a_pending_row_and_a_failed_one_leaves_nothing(
    api: httpx.AsyncClient, tenant_id: str, database: Database, s3_settings: dict[str, object]
) -> None:
    """The row is written before the bytes move, so a process that dies mid-upload leaves a row
    the retention sweep removes (with its object), never an object that no row names; an upload
    that fails drops both."""
    boundary = b"in-progress"
    head = (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
    )
    halfway, finish = asyncio.Event(), asyncio.Event()

    async def body(tail: bytes) -> AsyncIterator[bytes]:
        yield head + b"x" * 1000
        halfway.set()
        await finish.wait()
        yield tail

    async def send(tail: bytes) -> httpx.Response:
        return await api.post(
            "/v1/artifacts",
            content=body(tail),
            headers={"content-type": f"multipart/form-data; boundary={boundary.decode()}"},
        )

    # Under way: listed as pending (size 0: no presigned URL), not readable, not completable.
    sending = asyncio.create_task(send(b"y\r\n--" + boundary + b"--\r\n"))
    await asyncio.wait_for(halfway.wait(), timeout=10)
    listed = (await api.get("/v1/artifacts", params={"status": "pending"})).json()["data"]
    assert [(a["name"], a["size"], a["status"]) for a in listed] == [("big.txt", 0, "pending")]
    artifact_id = listed[0]["id"]
    problem = assert_problem(await api.get(f"/v1/artifacts/{artifact_id}/content"), 409, "artifact_not_ready")
    assert "has not finished" in problem["detail"]
    assert_problem(
        await api.post(f"/v1/artifacts/{artifact_id}/complete"), 409, "artifact_upload_in_progress"
    )
    async with session_scope(database, tenant_id) as session:
        row = await ArtifactRepository(session, tenant_id).get(artifact_id)
        assert row is not None and row.upload_expires_at is not None  # when the sweep may take it
    finish.set()
    done = await sending
    assert done.status_code == 201, done.text
    assert done.json()["id"] == artifact_id and done.json()["status"] == "ready"
    assert (await api.get(f"/v1/artifacts/{artifact_id}/content")).content == b"x" * 1000 + b"y"

    # Broken off half-way (the body ends inside the file): a 400, and no row, no object.
    halfway.clear()
    finish.clear()
    failing = asyncio.create_task(send(b"y"))
    await asyncio.wait_for(halfway.wait(), timeout=10)
    pending = (await api.get("/v1/artifacts", params={"status": "pending"})).json()["data"]
    assert len(pending) == 1
    async with session_scope(database, tenant_id) as session:
        row = await ArtifactRepository(session, tenant_id).get(pending[0]["id"])
        assert row is not None
        key = row.object_key
    finish.set()
    assert_problem(await failing, 400, "malformed_multipart")
    assert (await api.get("/v1/artifacts", params={"status": "pending"})).json()["data"] == []
    storage = ObjectStorage(Settings.model_validate(s3_settings))
    try:
        assert await storage.head(key) is None
    finally:
        await storage.aclose()


async def test_a_file_over_the_limit_is_a_413_and_nothing_is_kept(
    database_url: str, tenant_id: str, s3_settings: dict[str, object]
) -> None:
    async for api in client_for(database_url, tenant_id, artifact_max_upload_bytes=1000, **s3_settings):
        assert (await upload(api, b"x" * 1000)).status_code == 201
        problem = assert_problem(await upload(api, b"x" * 1001), 413, "payload_too_large")
        assert "presigned" in problem["detail"]
        # A body declared far larger is refused before it is read.
        response = await api.post(
            "/v1/artifacts",
            content=b"",
            headers={"content-type": "multipart/form-data; boundary=b", "content-length": str(10**9)},
        )
        assert_problem(response, 413, "payload_too_large")
        assert len((await api.get("/v1/artifacts")).json()["data"]) == 1
        document = (await api.get("/openapi.json")).json()
        assert document["paths"]["/v1/artifacts"]["post"]["x-max-body-bytes"] == 1000 + 64 * 1024


async def test_without_object_storage_artifacts_are_a_503(database_url: str, tenant_id: str) -> None:
    async for api in client_for(database_url, tenant_id):
        assert_problem(await upload(api, b"x"), 503, "storage_not_configured")
        assert_problem(await api.get("/v1/artifacts/art_x/content"), 503, "storage_not_configured")


def test_every_artifact_route_is_described(api_openapi: dict[str, object]) -> None:
    paths: dict[str, dict[str, dict[str, object]]] = api_openapi["paths"]  # type: ignore[assignment]
    routes = [
        (path, op) for path, ops in paths.items() if path.startswith("/v1/artifacts") for op in ops.values()
    ]
    assert len(routes) == 8
    for _, operation in routes:
        assert operation["summary"] and len(str(operation["description"])) > 40


@pytest.fixture
def api_openapi(database_url: str, tenant_id: str) -> dict[str, object]:
    return build_app(database_url, tenant_id).openapi()
