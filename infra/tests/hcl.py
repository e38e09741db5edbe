"""The OpenTofu configuration under ``infra/aws`` read as data, and the rules it must keep.

No provider can be downloaded here, so ``tofu validate`` cannot run; what can be checked offline
is checked on the parsed HCL (python-hcl2): every rule below returns the violations it finds, so
a test asserts there are none in the real configuration and some in a deliberately broken copy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra" / "aws"
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|_KEYS$|PRIVATE_KEY|CLIENT_KEY|AUTH", re.IGNORECASE)
"""Names whose values are secrets: never plain ``environment`` values of a container."""


def parse_file(path: Path) -> dict[str, Any]:
    """One ``.tf`` or ``.tfvars`` file; a syntax error raises, naming the file."""
    return parse_text(path, path.read_text(encoding="utf-8"))


def parse_text(path: Path, text: str) -> dict[str, Any]:
    """``text``, the content of ``path``, parsed; a syntax error raises, naming the file."""
    try:
        return hcl2.loads(text, serialization_options=OPTIONS)
    except Exception as error:
        raise ValueError(f"{path}: {error}") from error


@dataclass(frozen=True)
class Block:
    """A labelled block (resource, data, module, variable, output) with where it is."""

    kind: str
    type: str
    name: str
    body: dict[str, Any]
    path: Path

    @property
    def where(self) -> str:
        label = f"{self.type}.{self.name}" if self.type else self.name
        return f"{self.path.parent.name}/{self.path.name}: {self.kind} {label}"

    @property
    def module_dir(self) -> Path:
        return self.path.parent


@dataclass
class Config:
    """Every ``.tf`` file under ``root`` (the root module, the modules and the bootstrap)."""

    root: Path
    files: dict[Path, dict[str, Any]] = field(default_factory=dict)
    sources: dict[Path, str] = field(default_factory=dict)
    """Each file's text, read once (the rules search it for references and comments)."""

    @classmethod
    def load(cls, root: Path = INFRA) -> Config:
        config = cls(root)
        for path in sorted(root.rglob("*.tf")):
            if ".terraform" not in path.parts:
                config.sources[path] = path.read_text(encoding="utf-8")
                config.files[path] = parse_text(path, config.sources[path])
        return config

    def _blocks(self, kind: str, depth: int) -> Iterator[Block]:
        for path, document in self.files.items():
            for entry in document.get(kind, []):
                for first, inner in entry.items():
                    if depth == 1:
                        yield Block(kind, "", first, _body(inner), path)
                    else:
                        for second, body in inner.items():
                            yield Block(kind, first, second, _body(body), path)

    def resources(self, *types: str) -> list[Block]:
        return [block for block in self._blocks("resource", 2) if not types or block.type in types]

    def modules(self) -> list[Block]:
        return list(self._blocks("module", 1))

    def variables(self) -> list[Block]:
        return list(self._blocks("variable", 1))

    def outputs(self) -> list[Block]:
        return list(self._blocks("output", 1))

    def locals(self, directory: Path | None = None) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for path, document in self.files.items():
            if directory is None or path.parent == directory:
                for entry in document.get("locals", []):
                    merged.update(_body(entry))
        return merged

    def terraform_blocks(self, directory: Path) -> list[dict[str, Any]]:
        return [
            _body(entry)
            for path, document in self.files.items()
            if path.parent == directory
            for entry in document.get("terraform", [])
        ]

    def text(self, directory: Path | None = None) -> str:
        return "\n".join(
            source for path, source in self.sources.items() if directory is None or path.parent == directory
        )


def _body(value: Any) -> dict[str, Any]:
    """A block's body (python-hcl2 wraps repeated blocks in lists)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, dict) else {}


def nested(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The nested blocks ``name`` of ``body`` (zero, one or many)."""
    value = body.get(name)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def is_true(value: Any) -> bool:
    return value is True or value == "true"


def is_false_or_unset(value: Any) -> bool:
    return value is None or value is False or value == "false"


def references(value: Any) -> str:
    """Everything ``value`` says, as text (to look for references in expressions)."""
    return repr(value)


def for_each_instances(config: Config, block: Block, body: dict[str, Any]) -> list[dict[str, Any]]:
    """``body`` once per element of its ``for_each`` when that is a local map or list of objects
    (``each.value.x`` replaced by the element's ``x``); else ``body`` itself."""
    source = re.fullmatch(r"\$\{local\.(\w+)\}", str(body.get("for_each", "")))
    if source is None:
        return [body]
    elements = config.locals(block.module_dir).get(source.group(1))
    values = (
        elements.values() if isinstance(elements, dict) else elements if isinstance(elements, list) else None
    )
    if values is None:
        return [body]
    instances = []
    for element in values:
        if not isinstance(element, dict):
            return [body]
        instance = {}
        for key, value in body.items():
            each = re.fullmatch(r"\$\{each\.value\.(\w+)\}", str(value))
            instance[key] = element.get(each.group(1)) if each else value
        instances.append(instance)
    return instances


# ----------------------------------------------------------------------------------------- rules


def variables_and_outputs_are_documented(config: Config) -> list[str]:
    problems = []
    for variable in config.variables():
        if not variable.body.get("type"):
            problems.append(f"{variable.where}: no type")
        if not str(variable.body.get("description") or "").strip():
            problems.append(f"{variable.where}: no description")
    problems += [
        f"{output.where}: no description"
        for output in config.outputs()
        if not str(output.body.get("description") or "").strip()
    ]
    return problems


def checkov_skips_are_justified(config: Config) -> list[str]:
    """Every ``checkov:skip=CKV_...:reason`` names a check and gives a reason of some words."""
    problems = []
    for path, source in config.sources.items():
        for number, line in enumerate(source.splitlines(), 1):
            for match in re.finditer(r"checkov:skip=([^:\s]*)(?::(.*))?", line):
                check, reason = match.group(1), (match.group(2) or "").strip()
                if not re.fullmatch(r"CKV2?_[A-Z]+_\d+", check):
                    problems.append(f"{path.name}:{number}: skip of no check id ({check!r})")
                if len(reason.split()) < 3:
                    problems.append(f"{path.name}:{number}: skip of {check} without a reason")
    return problems


def databases_are_private_encrypted_and_backed_up(config: Config) -> list[str]:
    problems = []
    for db in config.resources("aws_db_instance", "aws_rds_cluster"):
        body = db.body
        if not is_false_or_unset(body.get("publicly_accessible")):
            problems.append(f"{db.where}: publicly_accessible must be false")
        if not is_true(body.get("storage_encrypted")):
            problems.append(f"{db.where}: storage_encrypted must be true")
        if not body.get("kms_key_id"):
            problems.append(f"{db.where}: no customer managed KMS key")
        retention = body.get("backup_retention_period")
        if retention is None or retention == 0:
            problems.append(f"{db.where}: no automated backups (backup_retention_period)")
        if not is_true(body.get("iam_database_authentication_enabled")):
            problems.append(f"{db.where}: IAM database authentication off")
        if "manage_master_user_password" not in body:
            problems.append(f"{db.where}: the master password is not managed in Secrets Manager")
        if "password" in body:
            problems.append(f"{db.where}: a password in the configuration (and the state)")
    force_ssl = [
        parameter
        for group in config.resources("aws_db_parameter_group", "aws_rds_cluster_parameter_group")
        for parameter in nested(group.body, "parameter")
        if parameter.get("name") == "rds.force_ssl" and str(parameter.get("value")) == "1"
    ]
    if config.resources("aws_db_instance", "aws_rds_cluster") and not force_ssl:
        problems.append("no parameter group sets rds.force_ssl = 1 (TLS to the database)")
    for group in config.resources("aws_db_subnet_group"):
        if "private" not in references(group.body.get("subnet_ids")):
            problems.append(f"{group.where}: the database subnets are not the private ones")
    return problems


def caches_are_encrypted_with_a_token(config: Config) -> list[str]:
    problems = []
    for cache in config.resources("aws_elasticache_replication_group"):
        body = cache.body
        if not is_true(body.get("transit_encryption_enabled")):
            problems.append(f"{cache.where}: transit_encryption_enabled must be true (TLS)")
        if not is_true(body.get("at_rest_encryption_enabled")):
            problems.append(f"{cache.where}: at_rest_encryption_enabled must be true")
        if not body.get("auth_token"):
            problems.append(f"{cache.where}: no auth_token")
    problems += [
        f"{cluster.where}: use a replication group (TLS and auth token)"
        for cluster in config.resources("aws_elasticache_cluster")
    ]
    return problems


def buckets_are_encrypted_private_and_versioned(config: Config) -> list[str]:
    """Every bucket has its encryption, public access block (all four), versioning, and a policy
    refusing plain HTTP; found by the ``bucket`` argument naming it."""
    problems = []
    companions = {
        "aws_s3_bucket_server_side_encryption_configuration": "encryption configuration",
        "aws_s3_bucket_public_access_block": "public access block",
        "aws_s3_bucket_versioning": "versioning",
        "aws_s3_bucket_policy": "bucket policy (deny non-TLS)",
    }
    for bucket in config.resources("aws_s3_bucket"):
        ref = f"aws_s3_bucket.{bucket.name}."
        for kind, what in companions.items():
            found = [
                block
                for block in config.resources(kind)
                if block.module_dir == bucket.module_dir and ref in references(block.body.get("bucket"))
            ]
            if not found:
                problems.append(f"{bucket.where}: no {what}")
            if kind == "aws_s3_bucket_public_access_block":
                for block in found:
                    for flag in (
                        "block_public_acls",
                        "block_public_policy",
                        "ignore_public_acls",
                        "restrict_public_buckets",
                    ):
                        if not is_true(block.body.get(flag)):
                            problems.append(f"{block.where}: {flag} must be true")
            if kind == "aws_s3_bucket_versioning":
                for block in found:
                    statuses = [c.get("status") for c in nested(block.body, "versioning_configuration")]
                    if statuses != ["Enabled"]:
                        problems.append(f"{block.where}: versioning not Enabled")
        if bucket.body.get("acl") not in (None, "private"):
            problems.append(f"{bucket.where}: a public ACL")
    text = config.text()
    if config.resources("aws_s3_bucket") and "aws:SecureTransport" not in text:
        problems.append("no bucket policy denies requests without TLS (aws:SecureTransport)")
    return problems


INGRESS_KINDS = ("aws_vpc_security_group_ingress_rule", "aws_security_group_rule", "aws_security_group")


def ingress_is_justified_and_narrow(config: Config) -> list[str]:
    """Every ingress has a description; the internet (0.0.0.0/0, ::/0) reaches only 80/443."""
    problems = []
    rules: list[tuple[Block, dict[str, Any]]] = []
    for block in config.resources(*INGRESS_KINDS):
        if block.type == "aws_security_group":
            rules += [(block, ingress) for ingress in nested(block.body, "ingress")]
        elif block.type == "aws_security_group_rule":
            if block.body.get("type") == "ingress":
                rules.append((block, block.body))
        else:
            rules.append((block, block.body))
    expanded: list[tuple[Block, dict[str, Any]]] = []
    for block, rule in rules:
        expanded += [(block, instance) for instance in for_each_instances(config, block, rule)]
    for block, rule in expanded:
        if len(str(rule.get("description") or "").split()) < 2:
            problems.append(f"{block.where}: an ingress rule without a description of why")
        cidrs = references(
            [
                rule.get("cidr_ipv4"),
                rule.get("cidr_ipv6"),
                rule.get("cidr_blocks"),
                rule.get("ipv6_cidr_blocks"),
            ]
        )
        if "0.0.0.0/0" in cidrs or "::/0" in cidrs:
            ports = {str(rule.get("from_port")), str(rule.get("to_port"))}
            if not ports <= {"80", "443"}:
                problems.append(f"{block.where}: the internet reaches ports {sorted(ports)}")
    return problems


def ecs_containers_are_defined_once(config: Config) -> list[str]:
    """Task definitions come from one module (``modules/ecs-service``), which always sets a
    health check and log configuration and keeps secrets out of plain environment values."""
    problems = []
    service_dir = config.root / "modules" / "ecs-service"
    definitions = config.resources("aws_ecs_task_definition")
    if not definitions:
        problems.append("no aws_ecs_task_definition")
    for definition in definitions:
        if definition.module_dir != service_dir:
            problems.append(f"{definition.where}: task definitions belong in modules/ecs-service")
        body = definition.body
        if "jsonencode(" not in references(body.get("container_definitions")):
            problems.append(f"{definition.where}: container_definitions not built with jsonencode")
        if body.get("network_mode") not in ("awsvpc", None) or "FARGATE" not in references(
            body.get("requires_compatibilities")
        ):
            problems.append(f"{definition.where}: not a Fargate (awsvpc) task")
    module_text = config.text(service_dir)
    for key in (
        "healthCheck",
        "logConfiguration",
        "awslogs",
        "secrets",
        "valueFrom",
        "readonlyRootFilesystem",
    ):
        if key not in module_text:
            problems.append(f"modules/ecs-service: containers have no {key}")
    variables = {v.name: v for v in config.variables() if v.module_dir == service_dir}
    environment = variables.get("environment")
    if environment is None or "validation" not in environment.body:
        problems.append("modules/ecs-service: variable environment has no validation refusing secret names")
    health = variables.get("health_check_command")
    if health is None or "default" in health.body:
        problems.append("modules/ecs-service: health_check_command must be a required variable")
    for call in config.modules():
        if not str(call.body.get("source", "")).rstrip("/").endswith("ecs-service"):
            continue
        env = call.body.get("environment")
        if isinstance(env, dict):
            problems += [
                f"{call.where}: {name} is a secret and must come from Secrets Manager (secrets)"
                for name in env
                if SECRET_NAME.search(str(name))
            ]
        secrets = call.body.get("secrets")
        if isinstance(secrets, dict):
            for name, value in secrets.items():
                if not re.search(r"secret|arn|\$\{", str(value), re.IGNORECASE):
                    problems.append(f"{call.where}: secret {name} is not a Secrets Manager reference")
    return problems


def services_roll_back_and_stay_private(config: Config) -> list[str]:
    problems = []
    for service in config.resources("aws_ecs_service"):
        breakers = nested(service.body, "deployment_circuit_breaker")
        if not breakers or not all(is_true(b.get("enable")) and is_true(b.get("rollback")) for b in breakers):
            problems.append(f"{service.where}: no deployment circuit breaker with rollback")
        for network in nested(service.body, "network_configuration"):
            if not is_false_or_unset(network.get("assign_public_ip")):
                problems.append(f"{service.where}: tasks get public IPs")
    return problems


def logs_and_secrets_are_encrypted_and_kept_for_a_while(config: Config) -> list[str]:
    problems = []
    for group in config.resources("aws_cloudwatch_log_group"):
        if not group.body.get("retention_in_days"):
            problems.append(f"{group.where}: no retention_in_days")
        if not group.body.get("kms_key_id"):
            problems.append(f"{group.where}: no KMS key")
    problems += [
        f"{secret.where}: no KMS key"
        for secret in config.resources("aws_secretsmanager_secret")
        if not secret.body.get("kms_key_id")
    ]
    problems += [
        f"{key.where}: no key rotation"
        for key in config.resources("aws_kms_key")
        if not is_true(key.body.get("enable_key_rotation"))
    ]
    return problems


RULES = (
    variables_and_outputs_are_documented,
    checkov_skips_are_justified,
    databases_are_private_encrypted_and_backed_up,
    caches_are_encrypted_with_a_token,
    buckets_are_encrypted_private_and_versioned,
    ingress_is_justified_and_narrow,
    ecs_containers_are_defined_once,
    services_roll_back_and_stay_private,
    logs_and_secrets_are_encrypted_and_kept_for_a_while,
)


def violations(config: Config) -> dict[str, list[str]]:
    """Every rule's violations (rules without any are left out)."""
    found = {rule.__name__: rule(config) for rule in RULES}
    return {name: problems for name, problems in found.items() if problems}
