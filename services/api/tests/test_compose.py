"""docker/compose.yaml and its observability profile, checked offline (no Docker daemon).

The file is validated against the Compose Specification's JSON schema (vendored in
docker/schema/, see its README), and against what only we know: the profile's services exist,
every file they mount is in the repository, Prometheus scrapes real services on the ports the
API and the worker listen on, Grafana loads the dashboards folder, and the collector sends
Langfuse the keys Langfuse is initialized with. `docker compose config -q` runs too when a
Compose client is installed (it needs no daemon; Debian's `docker-compose` 1.29 also does).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agent_runtime_api.observability import METRICS_PATH
from agent_runtime_core.settings import Settings
from agent_runtime_core.tracing import otlp_targets

ROOT = Path(__file__).resolve().parents[3]
DOCKER_DIR = ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
SCHEMA_FILE = DOCKER_DIR / "schema" / "compose-spec.json"
PROFILE = "observability"
OBSERVABILITY_SERVICES = {
    "prometheus",
    "grafana",
    "otel-collector",
    "langfuse-web",
    "langfuse-worker",
    "langfuse-minio-init",
    "langfuse-db-init",
    "clickhouse",
    "langfuse-redis",
}
DASHBOARDS = {"agent-runs.json", "cost.json", "provider-health.json", "worker-health.json"}


def load_compose() -> dict[str, Any]:
    """The compose file as Compose reads it (YAML anchors and `<<` merge keys resolved)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def schema_errors(document: Any) -> list[str]:
    """What the Compose Specification's schema finds wrong with ``document`` (draft-07)."""
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert schema_errors(compose) == []


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("unknown service key", "services/prometheus: 'imagee' does not match any of the regexes"),
        ("wrong type", "services/grafana/profiles: 'observability' is not of type 'array'"),
        ("unknown top-level key", ": 'servics' does not match any of the regexes"),
    ],
)
def test_the_schema_check_rejects_a_broken_compose_file(
    compose: dict[str, Any], breakage: str, expected: str
) -> None:
    broken = copy.deepcopy(compose)
    if breakage == "unknown service key":
        broken["services"]["prometheus"]["imagee"] = broken["services"]["prometheus"].pop("image")
    elif breakage == "wrong type":
        broken["services"]["grafana"]["profiles"] = "observability"  # a string, not a list
    else:
        broken["servics"] = broken.pop("services")
    errors = schema_errors(broken)
    assert any(expected in error for error in errors), errors


def test_observability_services_are_only_in_the_profile(services: dict[str, dict[str, Any]]) -> None:
    in_profile = {name for name, service in services.items() if PROFILE in service.get("profiles", [])}
    assert in_profile == OBSERVABILITY_SERVICES
    # The application stack itself starts without the profile.
    for name in ("api", "worker", "postgres", "minio", "kong", "temporal"):
        assert "profiles" not in services[name], name
    # Every published port of the profile is bound to the loopback address only.
    for name in OBSERVABILITY_SERVICES:
        for port in services[name].get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def _bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    mounts: list[tuple[str, str]] = []
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def test_every_mounted_file_exists_and_every_named_volume_is_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    checked = 0
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith((".", "/")):
                assert (DOCKER_DIR / source).resolve().exists(), (name, source)
                checked += 1
            else:
                assert source in declared, (name, source)
    assert checked >= 5  # the gateway, the realm, prometheus.yml, collector.yaml, grafana's two


def _scrape_targets() -> dict[str, tuple[str, str]]:
    """job name → (target host:port, metrics path) of docker/prometheus/prometheus.yml."""
    config = yaml.safe_load((DOCKER_DIR / "prometheus" / "prometheus.yml").read_text())
    targets: dict[str, tuple[str, str]] = {}
    for job in config["scrape_configs"]:
        (static,) = job["static_configs"]
        (target,) = static["targets"]
        targets[job["job_name"]] = (target, job.get("metrics_path", "/metrics"))
    return targets


def test_prometheus_scrapes_the_api_and_the_worker_where_they_serve_metrics(
    services: dict[str, dict[str, Any]],
) -> None:
    targets = _scrape_targets()
    api_command = services["api"]["command"]
    api_port = api_command[api_command.index("--port") + 1]
    worker_port = services["worker"]["environment"]["AGENT_RUNTIME_WORKER_METRICS_PORT"]
    assert targets["agent-runtime-api"] == (f"api:{api_port}", METRICS_PATH)
    assert targets["agent-runtime-worker"] == (f"worker:{worker_port}", "/metrics")
    # The worker's setting parses as the port the metrics server is started on.
    assert Settings(worker_metrics_port=worker_port).worker_metrics_port == 9464
    for job, (target, _path) in targets.items():
        host = target.split(":")[0]
        assert host == "localhost" or host in services, (job, target)
    # Prometheus' own config is the file mounted into it.
    assert ("./prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml") in _bind_mounts(
        services["prometheus"]
    )


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is not installed (apt-get install prometheus)"
)
def test_promtool_accepts_the_prometheus_config() -> None:
    config = DOCKER_DIR / "prometheus" / "prometheus.yml"
    result = subprocess.run(
        ["promtool", "check", "config", "--syntax-only", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisions_prometheus_and_the_dashboards_folder(services: dict[str, dict[str, Any]]) -> None:
    mounts = dict(_bind_mounts(services["grafana"]))
    provisioning = DOCKER_DIR / "grafana" / "provisioning"
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboards_target = mounts["./grafana/dashboards"]

    (provider,) = yaml.safe_load((provisioning / "dashboards" / "agent-runtime.yaml").read_text())[
        "providers"
    ]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == dashboards_target
    assert {path.name for path in (DOCKER_DIR / "grafana" / "dashboards").glob("*.json")} == DASHBOARDS
    home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards_target + "/")
    assert Path(home).name in DASHBOARDS

    (datasource,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())[
        "datasources"
    ]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert "127.0.0.1:9090:9090" in services["prometheus"]["ports"]


def test_collector_forwards_traces_to_langfuse_with_the_initialized_keys(
    services: dict[str, dict[str, Any]],
) -> None:
    config = yaml.safe_load((DOCKER_DIR / "otel" / "collector.yaml").read_text())
    assert ("./otel/collector.yaml", "/etc/otelcol-contrib/config.yaml") in _bind_mounts(
        services["otel-collector"]
    )
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    assert set(pipeline["exporters"]) == {"otlphttp/langfuse", "debug"}

    langfuse = config["exporters"]["otlphttp/langfuse"]
    match = re.fullmatch(r"http://([\w-]+):(\d+)/api/public/otel", langfuse["endpoint"])
    assert match is not None, langfuse["endpoint"]
    assert match.group(1) == "langfuse-web"
    assert any(port.endswith(f":{match.group(2)}") for port in services["langfuse-web"]["ports"])

    # Basic auth with the keys Langfuse's headless initialization gives its project.
    authenticator = langfuse["auth"]["authenticator"]
    assert authenticator in config["service"]["extensions"]
    auth = config["extensions"][authenticator]["client_auth"]
    assert auth == {"username": "${env:LANGFUSE_PUBLIC_KEY}", "password": "${env:LANGFUSE_SECRET_KEY}"}
    collector_env = services["otel-collector"]["environment"]
    langfuse_env = services["langfuse-web"]["environment"]
    assert collector_env["LANGFUSE_PUBLIC_KEY"] == langfuse_env["LANGFUSE_INIT_PROJECT_PUBLIC_KEY"]
    assert collector_env["LANGFUSE_SECRET_KEY"] == langfuse_env["LANGFUSE_INIT_PROJECT_SECRET_KEY"]
    for key in ("LANGFUSE_INIT_ORG_ID", "LANGFUSE_INIT_PROJECT_ID", "LANGFUSE_INIT_USER_EMAIL"):
        assert langfuse_env[key], key


def test_langfuse_uses_its_own_database_and_bucket_on_the_shared_servers(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("langfuse-web", "langfuse-worker"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].endswith("@postgres:5432/langfuse"), name
        assert env["LANGFUSE_S3_EVENT_UPLOAD_BUCKET"] == "langfuse"
        assert env["LANGFUSE_S3_EVENT_UPLOAD_ENDPOINT"] == "http://minio:9000"
        assert (
            services[name]["depends_on"]["langfuse-db-init"]["condition"] == "service_completed_successfully"
        )
        assert services[name]["depends_on"]["langfuse-minio-init"]["condition"] == (
            "service_completed_successfully"
        )
    assert "CREATE DATABASE langfuse" in " ".join(services["langfuse-db-init"]["entrypoint"])
    assert "local/langfuse" in " ".join(services["langfuse-minio-init"]["entrypoint"])


def test_tracing_is_off_unless_the_endpoint_is_given_and_then_reaches_the_collector(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("api", "worker"):
        assert (
            services[name]["environment"]["AGENT_RUNTIME_OTLP_ENDPOINT"] == "${AGENT_RUNTIME_OTLP_ENDPOINT:-}"
        )
    # Unset, Compose passes an empty string: the app then exports nothing (no failing exporter).
    assert otlp_targets(Settings(otlp_endpoint="")) == []
    # The documented value reaches the collector's OTLP/HTTP receiver.
    (target,) = otlp_targets(Settings(otlp_endpoint="http://otel-collector:4318"))
    assert target.endpoint == "http://otel-collector:4318/v1/traces"
    assert "otel-collector" in services


def _compose_command() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):  # Debian's docker-compose (v1.29): knows profiles too
        return ["docker-compose"]
    return None


@pytest.mark.skipif(
    _compose_command() is None,
    reason="no Compose client (`docker compose` plugin or docker-compose); the schema tests cover the file",
)
def test_docker_compose_config_accepts_the_observability_profile() -> None:
    command = _compose_command()
    assert command is not None
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "--profile", PROFILE, "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
