"""``agent-runtime healthcheck``: exit 0 if the API or worker of this container is healthy, else 1.

The image's ``HEALTHCHECK`` (and an ECS task definition's ``healthCheck``) runs it every few
seconds, so it imports the standard library only (``agent_runtime_cli.entry`` sends the command
here before the CLI, its settings and its dependencies are imported) and reads its configuration
from the environment alone: no ``.env`` file, no settings validation.

One image serves the API and the worker, so by default (``--target auto``) it checks what runs:

- a worker touches ``AGENT_RUNTIME_WORKER_HEALTH_FILE`` every few seconds while it runs (and
  removes it when it stops): when that file exists, it must be younger than ``--max-age``;
- otherwise the API must answer ``GET /healthz`` on ``127.0.0.1:$AGENT_RUNTIME_API_PORT`` (8000)
  with 200 within ``--timeout``.

A container still starting has neither (Docker's ``--start-period`` covers that).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

DEFAULT_MAX_AGE_S = 30.0
"""The worker touches its health file every 5 s: six missed beats make it unhealthy."""


def api_url(environ: Mapping[str, str]) -> str:
    """``/healthz`` of the API this container runs (it listens on all interfaces or loopback)."""
    port = environ.get("AGENT_RUNTIME_API_PORT") or "8000"
    return f"http://127.0.0.1:{port}/healthz"


def check_api(url: str, timeout_s: float) -> tuple[bool, str]:
    """Whether ``url`` answers 200 within ``timeout_s``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return False, f"API {url}: HTTP {exc.code}"
    except (OSError, ValueError) as exc:  # refused, timed out, bad URL
        return False, f"API {url}: {exc}"
    return status == 200, f"API {url}: HTTP {status}"


def check_worker(path: Path, max_age_s: float, now: float | None = None) -> tuple[bool, str]:
    """Whether the worker touched ``path`` within ``max_age_s``."""
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except OSError:
        return False, f"worker: no health file {path} (not started, or stopped)"
    if age > max_age_s:
        return False, f"worker: health file {path} is {age:.0f} s old (> {max_age_s:.0f} s)"
    return True, f"worker: health file {path} is {age:.1f} s old"


def check(
    target: str,
    *,
    environ: Mapping[str, str],
    url: str | None = None,
    health_file: str | None = None,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    timeout_s: float = 3.0,
) -> tuple[bool, str]:
    """Run the check for ``target`` (``auto``, ``api`` or ``worker``): (healthy, what was seen)."""
    file = health_file or environ.get("AGENT_RUNTIME_WORKER_HEALTH_FILE") or None
    if target == "worker" or (target == "auto" and file and Path(file).exists()):
        if not file:
            return False, "worker: AGENT_RUNTIME_WORKER_HEALTH_FILE is not set"
        return check_worker(Path(file), max_age_s)
    return check_api(url or api_url(environ), timeout_s)


def parser() -> argparse.ArgumentParser:
    """The command line of ``agent-runtime healthcheck``."""
    result = argparse.ArgumentParser(
        prog="agent-runtime healthcheck",
        description=(
            "Exit 0 if this container's API or worker is healthy, 1 if not (for HEALTHCHECK and "
            "ECS health checks). auto: the worker's health file "
            "(AGENT_RUNTIME_WORKER_HEALTH_FILE) if it exists, else the API's /healthz on "
            "127.0.0.1:$AGENT_RUNTIME_API_PORT."
        ),
    )
    result.add_argument("--target", choices=("auto", "api", "worker"), default="auto")
    result.add_argument("--url", help="The API URL to GET (default: the local /healthz).")
    result.add_argument("--health-file", help="The worker's health file (default: from the environment).")
    result.add_argument(
        "--max-age", type=float, default=DEFAULT_MAX_AGE_S, help="Seconds a health file stays fresh."
    )
    result.add_argument("--timeout", type=float, default=3.0, help="Seconds to wait for the API.")
    result.add_argument("--quiet", action="store_true", help="Print nothing.")
    return result


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the check; print what was seen (Docker keeps it in ``docker inspect``); 0 or 1."""
    args = parser().parse_args(argv)
    healthy, seen = check(
        args.target,
        environ=os.environ if environ is None else environ,
        url=args.url,
        health_file=args.health_file,
        max_age_s=args.max_age,
        timeout_s=args.timeout,
    )
    if not args.quiet:
        print(("healthy: " if healthy else "unhealthy: ") + seen, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
