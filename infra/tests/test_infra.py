"""``infra/aws`` validated offline: it parses, keeps the platform's rules, passes checkov, and each
check fails on a deliberately broken copy (so none of them passes vacuously)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agent_runtime_core.metrics import TASK_QUEUE_BACKLOG
from agent_runtime_core.settings import Settings

from .hcl import INFRA, REPO, Config, parse_file, violations

ENVIRONMENTS = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def config() -> Config:
    return Config.load()


def test_every_file_parses() -> None:
    files = [*INFRA.rglob("*.tf"), *INFRA.rglob("*.tfvars"), *INFRA.rglob("*.tfbackend")]
    assert len(files) > 20
    for path in files:
        parse_file(path)  # raises naming the file


def test_the_configuration_keeps_every_rule(config: Config) -> None:
    assert violations(config) == {}


def test_opentofu_and_the_aws_provider_are_pinned(config: Config) -> None:
    roots = [INFRA, INFRA / "bootstrap"]
    for root in roots:
        (terraform,) = [block for block in config.terraform_blocks(root) if "required_version" in block]
        minimum = re.search(r">=\s*1\.(\d+)", str(terraform["required_version"]))
        assert minimum and int(minimum.group(1)) >= 8, terraform["required_version"]
        providers = terraform["required_providers"]
        providers = providers[0] if isinstance(providers, list) else providers
        aws = providers["aws"]
        assert aws["source"] == "hashicorp/aws"
        # Bounded: `~> 6.0`, an exact version, or `>= 6.0, < 7.0` (no unbounded `>=`).
        constraint = aws["version"].strip()
        assert re.fullmatch(r"~>\s*\d+\.\d+(\.\d+)?|=?\s*\d+\.\d+\.\d+", constraint) or re.fullmatch(
            r">=?\s*\d+(\.\d+)*\s*,\s*<\s*\d+(\.\d+)*", constraint
        ), constraint
    # Every module names the provider it needs (same source), so `tofu init` resolves one.
    for module in sorted({path.parent for path in config.files if "modules" in path.parts}):
        assert "hashicorp/aws" in config.text(module) or "aws_" not in config.text(module), module


def test_state_is_remote_encrypted_and_locked(config: Config) -> None:
    backends = [
        backend
        for block in config.terraform_blocks(INFRA)
        for backend in (block.get("backend") or [])
        if isinstance(backend, dict) and "s3" in backend
    ]
    assert backends, "the root module keeps its state in S3"
    for environment in ENVIRONMENTS:
        settings = parse_file(INFRA / "envs" / f"{environment}.s3.tfbackend")
        assert settings.get("bucket") and settings.get("key") and settings.get("region")
        assert environment in str(settings["key"])
        assert settings.get("encrypt") in (True, "true")
        assert settings.get("use_lockfile") in (True, "true") or settings.get("dynamodb_table")
    bucket = [b for b in config.resources("aws_s3_bucket") if b.module_dir == INFRA / "bootstrap"]
    assert bucket, "the bootstrap module creates the state bucket"


def test_environments_differ_only_through_tfvars(config: Config) -> None:
    """One root module for all three: envs/ holds only variable and backend files, and every
    value they set is a variable of the root module."""
    assert sorted(path.name for path in (INFRA / "envs").iterdir()) == sorted(
        [f"{env}.tfvars" for env in ENVIRONMENTS] + [f"{env}.s3.tfbackend" for env in ENVIRONMENTS]
    )
    declared = {variable.name for variable in config.variables() if variable.module_dir == INFRA}
    for environment in ENVIRONMENTS:
        values = parse_file(INFRA / "envs" / f"{environment}.tfvars")
        assert set(values) <= declared, set(values) - declared
        assert values.get("environment") == environment
    dev, prod = (parse_file(INFRA / "envs" / f"{env}.tfvars") for env in ("dev", "prod"))
    assert dev != prod


def test_containers_are_configured_with_real_settings(config: Config) -> None:
    """Every AGENT_RUNTIME_* variable a task sets is a setting the processes read: a renamed
    setting cannot leave the deployment silently configuring nothing."""
    known = set()
    for name, field in Settings.model_fields.items():
        known.add(f"AGENT_RUNTIME_{name.upper()}")
        alias = field.validation_alias
        known.update(str(choice) for choice in getattr(alias, "choices", []) if isinstance(choice, str))
    used = set(re.findall(r"\bAGENT_RUNTIME_[A-Z0-9_]+\b", config.text()))
    assert used, "the tasks configure the processes"
    assert used - known == set()
    for required in (
        "AGENT_RUNTIME_DATABASE_URL",
        "AGENT_RUNTIME_DATABASE_PASSWORD",
        "AGENT_RUNTIME_REDIS_URL",
    ):
        assert required in used


def test_workers_scale_on_the_backlog_metric_the_worker_exports(config: Config) -> None:
    text = config.text()
    assert TASK_QUEUE_BACKLOG._name in text  # pyright: ignore[reportAttributeAccessIssue]
    policies = config.resources("aws_appautoscaling_policy")
    said = repr([policy.body for policy in policies])
    assert "ECSServiceAverageCPUUtilization" in said
    assert "ALBRequestCountPerTarget" in said
    assert "customized_metric_specification" in said


def test_kong_and_the_realm_come_from_the_repository(config: Config) -> None:
    text = config.text()
    assert "gateway/kong.yaml" in text
    assert "auth/realm-agent-runtime.json" in text
    # Kong's upstream is rewritten from the compose name to the service-discovery name: a kong.yaml
    # whose upstream changed would make that rewrite a silent no-op.
    kong = (REPO / "gateway" / "kong.yaml").read_text(encoding="utf-8")
    rewrites = re.findall(r'replace\(file\(var\.kong_config_path\),\s*"([^"]+)"', text)
    assert rewrites, "the compute module rewrites kong.yaml's upstream"
    for upstream in rewrites:
        assert f"url: {upstream}" in kong, upstream
    # Both files travel inside task definitions, which ECS caps at 64 KiB each.
    assert len(kong) < 40_000
    assert len((REPO / "auth" / "realm-agent-runtime.json").read_bytes()) < 40_000


# ------------------------------------------------------------------------ a deliberately broken copy


def _broken_copy(tmp_path: Path, edits: dict[str, list[tuple[str, str]]]) -> Path:
    """infra/aws copied, with each ``(pattern, replacement)`` applied to its module's files."""
    copy = tmp_path / "aws"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns(".terraform*"))
    for directory, replacements in edits.items():
        for pattern, replacement in replacements:
            changed = 0
            for path in (copy / directory).glob("*.tf"):
                text = path.read_text(encoding="utf-8")
                new, count = re.subn(pattern, replacement, text, count=1)
                if count:
                    path.write_text(new, encoding="utf-8")
                    changed += count
                    break
            assert changed, f"{pattern!r} is not in {directory}: update this test with the config"
    return copy


BREAKS: dict[str, tuple[str, list[tuple[str, str]], str]] = {
    # what breaks: (module, edits, the rule that must catch it)
    "a public database": (
        "modules/data",
        [(r"publicly_accessible\s*=\s*false", "publicly_accessible = true")],
        "databases_are_private_encrypted_and_backed_up",
    ),
    "an unencrypted cache": (
        "modules/data",
        [(r"transit_encryption_enabled\s*=\s*true", "transit_encryption_enabled = false")],
        "caches_are_encrypted_with_a_token",
    ),
    "a bucket open to public ACLs": (
        "modules/data",
        [(r"block_public_acls\s*=\s*true", "block_public_acls = false")],
        "buckets_are_encrypted_private_and_versioned",
    ),
    "an unexplained ingress": (
        "modules/network",
        [(r'description\s*=\s*"HTTPS from anywhere[^"]*"', 'description = ""')],
        "ingress_is_justified_and_narrow",
    ),
    "the internet on the database port": (
        "modules/network",
        [(r"from_port\s*=\s*443\n(\s*)to_port\s*=\s*443", "from_port = 5432\n\\1to_port = 5432")],
        "ingress_is_justified_and_narrow",
    ),
    "a skip without a reason": (
        "modules/data",
        [(r"(checkov:skip=CKV_AWS_\d+):[^\n]*", "\\1:")],
        "checkov_skips_are_justified",
    ),
    "an undocumented variable": (
        "modules/data",
        [(r'(variable "[^"]+" \{\n(?:[^}]*\n)*?)\s*description\s*=\s*"[^"]*"\n', "\\1\n")],
        "variables_and_outputs_are_documented",
    ),
}


@pytest.mark.parametrize("what", sorted(BREAKS))
def test_a_broken_copy_is_caught(tmp_path: Path, what: str) -> None:
    directory, edits, rule = BREAKS[what]
    broken = Config.load(_broken_copy(tmp_path, {directory: edits}))
    assert rule in violations(broken), what


def test_a_secret_as_a_plain_environment_value_is_caught(tmp_path: Path, config: Config) -> None:
    (call, *_) = [
        module
        for module in config.modules()
        if str(module.body.get("source", "")).rstrip("/").endswith("ecs-service")
        and isinstance(module.body.get("environment"), dict)
    ]
    path = call.path.relative_to(INFRA)
    copy = _broken_copy(tmp_path, {})
    target = copy / path
    text = target.read_text(encoding="utf-8")
    start = text.index(f'module "{call.name}"')
    environment = re.compile(r"environment\s*=\s*(merge\(\s*)?\{").search(text, start)
    assert environment is not None
    target.write_text(
        text[: environment.end()]
        + '\n    AGENT_RUNTIME_OPENAI_API_KEY = "sk-in-plain-sight"\n'
        + text[environment.end() :],
        encoding="utf-8",
    )
    assert "ecs_containers_are_defined_once" in violations(Config.load(copy))


def _checkov(*directories: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # niced: checkov is CPU-heavy, and the other core runs timed workers
        ["nice", "-n", "10", str(REPO / "scripts" / "validate-infra"), *map(str, directories)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_checkov_fails_on_a_broken_copy(tmp_path: Path) -> None:
    """scripts/test runs checkov over infra/aws; here, over a copy of the data module with a public
    database and a bucket open to public ACLs, it must fail, naming those checks."""
    copy = _broken_copy(
        tmp_path,
        {
            "modules/data": [
                (r"publicly_accessible\s*=\s*false", "publicly_accessible = true"),
                (r"block_public_acls\s*=\s*true", "block_public_acls = false"),
            ]
        },
    )
    result = _checkov(copy / "modules" / "data")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "CKV_AWS_17" in result.stdout  # RDS publicly accessible
    assert "CKV_AWS_53" in result.stdout  # S3 block public ACLs
