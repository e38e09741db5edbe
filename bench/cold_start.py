"""What compiling bytecode into the image saves each time a worker or API process starts.

A replacement worker's start-up is part of crash recovery (``bench/crash_recovery.py``), and an
image runs read-only with ``PYTHONDONTWRITEBYTECODE=1``: without ``.pyc`` files baked in, every
process compiles every module it imports, every time. This builds the image's environment twice,
as ``docker/Dockerfile``'s last ``uv sync`` does (``--locked --no-dev --no-editable --package
agent-runtime-cli``), once with ``--compile-bytecode`` (``PYC_INVALIDATION_MODE=UNCHECKED_HASH``,
as the image) and once without, then times, in fresh interpreters taking turns,

* ``import agent_runtime_worker.main`` (everything a worker loads before it connects),
* ``import agent_runtime_api.main`` (the API's),
* ``agent-runtime healthcheck --help`` (the health probe, which must stay light).

    uv run python bench/cold_start.py [--rounds 15]

Writes ``bench/results/cold_start-<UTC time>.json`` (every sample) and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench_common import REPO_ROOT, RESULTS_DIR, log, machine_facts, percentile

PROBES = {
    "worker import": ["python", "-c", "import agent_runtime_worker.main"],
    "api import": ["python", "-c", "import agent_runtime_api.main"],
    "healthcheck --help": ["agent-runtime", "healthcheck", "--help"],
}


def build(environment: Path, *, compiled: bool) -> None:
    """The image's environment (no dev tools, our packages not editable) at ``environment``."""
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(environment), "UV_LINK_MODE": "copy"}
    argv = [
        "uv",
        "sync",
        "--locked",
        "--no-dev",
        "--no-editable",
        "--package",
        "agent-runtime-cli",
        "--quiet",
    ]
    if compiled:
        argv.append("--compile-bytecode")
        env["PYC_INVALIDATION_MODE"] = "UNCHECKED_HASH"
    else:
        argv.append("--no-compile-bytecode")
        env.pop("UV_COMPILE_BYTECODE", None)
    subprocess.run(argv, cwd=REPO_ROOT, env=env, check=True)


def time_once(environment: Path, argv: list[str]) -> float:
    executable = environment / "bin" / argv[0]
    env = {
        "PATH": f"{environment / 'bin'}:{os.environ['PATH']}",
        "PYTHONDONTWRITEBYTECODE": "1",  # as in the image: nothing compiled at run time is kept
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    started = time.perf_counter()
    subprocess.run([str(executable), *argv[1:]], env=env, check=True, capture_output=True, cwd="/")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed starts per probe and build")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cold-start-") as scratch:
        builds = {"compiled": Path(scratch) / "compiled", "source only": Path(scratch) / "source"}
        for name, environment in builds.items():
            log(f"building the image's environment ({name}) in {environment}")
            build(environment, compiled=name == "compiled")
        samples: dict[str, dict[str, list[float]]] = {
            probe: {name: [] for name in builds} for probe in PROBES
        }
        for probe, argv in PROBES.items():
            for environment in builds.values():
                time_once(environment, argv)  # warm the page cache: both builds read warm files
            for round_ in range(args.rounds):
                order = list(builds.items()) if round_ % 2 == 0 else list(reversed(builds.items()))
                for name, environment in order:
                    samples[probe][name].append(time_once(environment, argv))
            log(f"{probe}: done")
    rows = []
    for probe, by_build in samples.items():
        compiled = percentile(by_build["compiled"], 0.5)
        source = percentile(by_build["source only"], 0.5)
        rows.append(
            {
                "probe": probe,
                "compiled_p50_s": compiled,
                "source_p50_s": source,
                "compiled_p90_s": percentile(by_build["compiled"], 0.9),
                "source_p90_s": percentile(by_build["source only"], 0.9),
                "source_over_compiled": source / compiled,
            }
        )
    facts = machine_facts(["temporalio", "pydantic-ai-slim", "fastapi"])
    lines = [
        "# Cold start: bytecode compiled into the image vs. source only",
        "",
        f"{facts['date_utc']} · {facts['cpu_model']} · {facts['nproc']} cores · {facts['memory_gib']} GiB · "
        f"Python {facts['python']} · commit {facts['git_commit']} · {args.rounds} starts per cell, "
        "builds taking turns · PYTHONDONTWRITEBYTECODE=1 (as in the image)",
        "",
        "| Probe | compiled p50 (s) | source only p50 (s) | compiled p90 | source only p90 "
        "| source / compiled |",
        "|---|---|---|---|---|---|",
        *(
            f"| {row['probe']} | {row['compiled_p50_s']:.3f} | {row['source_p50_s']:.3f} | "
            f"{row['compiled_p90_s']:.3f} | {row['source_p90_s']:.3f} | {row['source_over_compiled']:.2f}x |"
            for row in rows
        ),
        "",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"cold_start-{stamp}.json").write_text(
        json.dumps({"machine": facts, "rounds": args.rounds, "rows": rows, "samples": samples}, indent=2)
        + "\n"
    )
    (RESULTS_DIR / f"cold_start-{stamp}.md").write_text(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
