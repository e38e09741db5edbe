"""What an HTTP tool call adds to the HTTP round trip it makes.

`call_http_tool` does more than send a request: it renders secret headers, signs the body, resolves
and checks the host (SSRF guard), pins a fresh connection to the checked address (no connection
reuse: a pooled connection was checked for an earlier call), streams the body under a cap and
parses the JSON. This measures the cost of all that against plain `httpx` POSTs of the same body
to the same local server:

* **raw, keep-alive**: one shared `httpx.AsyncClient` (the cheapest possible round trip);
* **raw, new connection**: one shared `httpx.AsyncClient` without keep-alive, so every request
  opens a new TCP connection (what the tool must do anyway);
* **HTTP tool**: `call_http_tool` (POST, one secret header, one signing key, private networks
  allowed since the server is on 127.0.0.1, plain HTTP).

The three alternate request by request (the order rotating each round), so the machine's slow
moments hit all alike. The server runs in its own process (uvicorn, one worker, access log off)
so its CPU does not share this process's interpreter lock.

    uv run python bench/http_tool.py [--requests 300] [--warmup 30] [--body-bytes 256]

Writes ``bench/results/http_tool-<UTC time>.json`` (every sample) and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from agent_runtime_core.signing import SigningKey, signed_headers
from agent_runtime_core.temporal.contracts import HttpToolConfig
from agent_runtime_worker.tools.http_tool import HttpToolPolicy, call_http_tool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import RESULTS_DIR, log, machine_facts, percentile

SCENARIOS = ("raw, keep-alive", "raw, new connection", "HTTP tool")

_SERVER = """
import json, sys, uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = json.dumps({"ok": True, "received": len(body)}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 20
    async with httpx.AsyncClient() as client:
        while True:
            try:
                await client.post(url, content=b"{}")
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


async def measure(url: str, requests: int, warmup: int, body_bytes: int) -> dict[str, list[float]]:
    arguments = {"text": "x" * max(0, body_bytes - 11)}  # {"text":"…"} is body_bytes long
    body = json.dumps(arguments, separators=(",", ":")).encode()
    config = HttpToolConfig(url=url, headers={"Authorization": "Bearer {{secrets.TOKEN}}"})
    policy = HttpToolPolicy(allow_private_networks=True, require_https=False)
    keys = [SigningKey("bench", b"bench-signing-secret")]
    secrets = {"TOKEN": "bench-token"}
    raw_headers = {"Content-Type": "application/json", "Authorization": "Bearer bench-token"}
    samples: dict[str, list[float]] = {name: [] for name in SCENARIOS}

    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    async with (
        httpx.AsyncClient(trust_env=False) as shared,
        httpx.AsyncClient(trust_env=False, limits=no_keepalive) as fresh,
    ):

        async def raw_keepalive() -> None:
            response = await shared.post(url, content=body, headers=raw_headers)
            response.raise_for_status()
            response.json()

        async def raw_new_connection() -> None:
            response = await fresh.post(url, content=body, headers=raw_headers)
            response.raise_for_status()
            response.json()

        async def tool() -> None:
            result = await call_http_tool(
                config,
                arguments,
                idempotency_key=f"call_{uuid.uuid4().hex}",
                secrets=secrets,
                signing_keys=keys,
                policy=policy,
            )
            assert result["received"] == len(body), result

        calls: dict[str, Callable[[], Awaitable[None]]] = {
            "raw, keep-alive": raw_keepalive,
            "raw, new connection": raw_new_connection,
            "HTTP tool": tool,
        }
        for round_number in range(warmup + requests):
            shift = round_number % len(SCENARIOS)
            for name in SCENARIOS[shift:] + SCENARIOS[:shift]:
                started = time.perf_counter()
                await calls[name]()
                if round_number >= warmup:
                    samples[name].append((time.perf_counter() - started) * 1000)
            if round_number == warmup - 1:
                log(f"warm-up done ({warmup} rounds); measuring {requests} rounds")
    return samples


def cpu_only_cost_us(rounds: int = 2000) -> dict[str, float]:
    """Per-call CPU of the parts that do no I/O: rendering secrets, JSON, one HMAC signature."""
    from agent_runtime_worker.tools.http_tool import render_headers

    keys = [SigningKey("bench", b"bench-signing-secret")]
    arguments = {"text": "x" * 245}
    started = time.perf_counter()
    for _ in range(rounds):
        render_headers({"Authorization": "Bearer {{secrets.TOKEN}}"}, {"TOKEN": "bench-token"})
    render = (time.perf_counter() - started) / rounds * 1e6
    started = time.perf_counter()
    for _ in range(rounds):
        body = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False).encode()
        signed_headers(keys, int(time.time()), body)
    sign = (time.perf_counter() - started) / rounds * 1e6
    return {"render_headers_us": render, "json_and_sign_us": sign}


def summarise(samples: dict[str, list[float]]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        name: {"p50_ms": percentile(values, 0.5), "p95_ms": percentile(values, 0.95), "n": len(values)}
        for name, values in samples.items()
    }
    for baseline in ("raw, keep-alive", "raw, new connection"):
        paired = [t - r for t, r in zip(samples["HTTP tool"], samples[baseline], strict=True)]
        summary[f"tool vs {baseline}"] = {
            "ratio_p50": summary["HTTP tool"]["p50_ms"] / summary[baseline]["p50_ms"],
            "ratio_p95": summary["HTTP tool"]["p95_ms"] / summary[baseline]["p95_ms"],
            "extra_p50_ms": summary["HTTP tool"]["p50_ms"] - summary[baseline]["p50_ms"],
            "paired_extra_p50_ms": percentile(paired, 0.5),
        }
    return summary


def report(summary: dict[str, Any], cpu: dict[str, float], facts: dict[str, Any], args: Any) -> str:
    lines = [
        "# HTTP tool call overhead over the raw HTTP round trip",
        "",
        f"{args.requests} POSTs per scenario of a {args.body_bytes}-byte JSON body to a local uvicorn "
        f"server (separate process), after {args.warmup} warm-up rounds; scenarios alternate "
        "request by request.",
        "",
        "| Scenario | p50 | p95 |",
        "|---|---:|---:|",
    ]
    for name in SCENARIOS:
        row = summary[name]
        lines.append(f"| {name} | {row['p50_ms']:.2f} ms | {row['p95_ms']:.2f} ms |")
    lines += [
        "",
        "| HTTP tool against | ratio p50 | ratio p95 | extra p50 | paired extra p50 |",
        "|---|---:|---:|---:|---:|",
    ]
    for baseline in ("raw, keep-alive", "raw, new connection"):
        row = summary[f"tool vs {baseline}"]
        lines.append(
            f"| {baseline} | {row['ratio_p50']:.2f}x | {row['ratio_p95']:.2f}x "
            f"| {row['extra_p50_ms']:+.2f} ms | {row['paired_extra_p50_ms']:+.2f} ms |"
        )
    lines += [
        "",
        f"CPU without I/O, per call: rendering the secret header {cpu['render_headers_us']:.1f} µs; "
        f"JSON body and one HMAC-SHA256 signature {cpu['json_and_sign_us']:.1f} µs.",
        "",
        "The tool opens a new connection per call by design (the SSRF guard pins each request to "
        "the address it checked), so `raw, new connection` is the like-for-like baseline; "
        "`raw, keep-alive` is the floor. The paired extra is the p50 of each tool call minus the "
        "raw call of the same round.",
        "",
        "## Machine",
        "",
        f"- CPU: {facts['cpu_model']}, {facts['nproc']} CPUs available; memory {facts['memory_gib']} GiB",
        f"- {facts['os']}, Python {facts['python']}; "
        + ", ".join(f"{name} {version}" for name, version in facts["packages"].items()),
        f"- Load average before / after: {facts['load_before']} / {facts['load_after']}",
        f"- Commit {facts['git_commit']}; {facts['date_utc']}",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--body-bytes", type=int, default=256)
    args = parser.parse_args()
    port = _free_port()
    url = f"http://127.0.0.1:{port}/tool"
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)])
    load_before = " ".join(f"{value:.2f}" for value in os.getloadavg())
    try:
        asyncio.run(_wait_until_up(url))
        samples = asyncio.run(measure(url, args.requests, args.warmup, args.body_bytes))
    finally:
        server.terminate()
        server.wait(timeout=10)
    load_after = " ".join(f"{value:.2f}" for value in os.getloadavg())
    summary = summarise(samples)
    cpu = cpu_only_cost_us()
    facts = machine_facts(["httpx", "httpcore", "uvicorn", "h11"])
    facts.update(load_before=load_before, load_after=load_after)
    markdown = report(summary, cpu, facts, args)
    print(markdown)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"http_tool-{stamp}.json").write_text(
        json.dumps(
            {
                "summary": summary,
                "cpu_only": cpu,
                "samples_ms": samples,
                "settings": vars(args),
                "machine": facts,
            },
            indent=2,
        )
    )
    (RESULTS_DIR / f"http_tool-{stamp}.md").write_text(markdown)


if __name__ == "__main__":
    main()
