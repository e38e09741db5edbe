"""``terraform validate`` of ``infra/aws`` against the real AWS provider's schema, and a plan of
each environment with a mocked provider, offline.

Where a Terraform CLI and a local provider mirror exist (this machine image has Terraform 1.11
and ``hashicorp/aws`` 5.100.0 in ``/opt/tf-plugins``; no registry is reachable), every resource,
argument, block and reference of every module is checked against the provider's schema. The
configuration pins AWS provider 6, so a copy is adapted to the mirror's 5.100 for the check:

* the provider constraint and the one attribute provider 6 renamed (``data.aws_region``'s
  ``region``, ``name`` in 5);
* ``hashicorp/random`` is not in the mirror: each ``random_*`` resource becomes a call of a stub
  module with the same ``count``/``for_each`` and the same attributes (``result``, ``base64``).

Then ``terraform test`` plans the root module with each ``envs/<env>.tfvars`` against a mocked
provider (``mock_provider``: no AWS account), which evaluates every expression, ``count``,
``for_each``, variable validation and postcondition with that environment's values.

Elsewhere it is skipped, saying why: the rules over the parsed configuration and checkov still
run (``test_infra.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .hcl import INFRA, REPO, parse_file

MIRROR = Path(os.environ.get("AGENT_RUNTIME_TF_PLUGIN_DIR", "/opt/tf-plugins"))
TERRAFORM = shutil.which("terraform") or shutil.which("tofu")
MIRROR_AWS = sorted((MIRROR / "registry.terraform.io" / "hashicorp" / "aws").glob("5.*"))

pytestmark = pytest.mark.skipif(
    TERRAFORM is None or not MIRROR_AWS,
    reason=f"needs a terraform/tofu CLI and hashicorp/aws 5.x in a local mirror ({MIRROR}); "
    "none can be downloaded here",
)

STUB = """
output "result" {
  description = "Stands for random_*.result."
  value       = "stub-value-for-validation"
}
output "base64" {
  description = "Stands for random_bytes.base64."
  value       = "c3R1Yg=="
}
output "hex" {
  description = "Stands for random_*.hex."
  value       = "00"
}
output "id" {
  description = "Stands for random_*.id."
  value       = "stub"
}
"""


def _block_end(text: str, opening: int) -> int:
    """Index just past the ``}`` closing the brace at ``opening`` (strings hold no braces here)."""
    depth = 0
    for index in range(opening, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    raise AssertionError("unbalanced braces")


def adapt_for_the_mirror(copy: Path, stub: Path) -> int:
    """Rewrite the copy for provider 5.x without hashicorp/random; returns the random_* replaced."""
    renamed: dict[Path, list[str]] = {}  # module directory → random_<type>.<name> it declares
    for path in copy.rglob("*.tf"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r'version\s*=\s*">=\s*6\.0,\s*<\s*7\.0"', 'version = ">= 5.100, < 7.0"', text)
        text = re.sub(r"\brandom\s*=\s*\{[^}]*hashicorp/random[^}]*\}", "", text)
        text = text.replace("data.aws_region.current.region", "data.aws_region.current.name")
        while match := re.search(r'resource "random_(\w+)" "(\w+)" \{', text):
            end = _block_end(text, match.end() - 1)
            body = text[match.end() : end - 1]
            meta = [line.strip() for line in body.splitlines() if re.match(r"\s*(count|for_each)\s*=", line)]
            name = f"random_{match.group(1)}_{match.group(2)}"
            module = "\n  ".join([f'source = "{stub}"', *meta])
            text = f'{text[: match.start()]}module "{name}" {{\n  {module}\n}}{text[end:]}'
            renamed.setdefault(path.parent, []).append(f"random_{match.group(1)}.{match.group(2)}")
        path.write_text(text, encoding="utf-8")
    for directory, references in renamed.items():
        for path in directory.glob("*.tf"):
            text = path.read_text(encoding="utf-8")
            for reference in references:
                text = re.sub(rf"\b{re.escape(reference)}\b", "module." + reference.replace(".", "_"), text)
            path.write_text(text, encoding="utf-8")
    return sum(len(references) for references in renamed.values())


def _terraform(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert TERRAFORM is not None
    environment = {
        **os.environ,
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": "/dev/null",
        "TF_DATA_DIR": str(directory / ".terraform"),
    }
    # At a lower priority: the provider is heavy, and the test next door on the other core may
    # run a Temporal worker whose deadlock detector counts seconds.
    return subprocess.run(
        ["nice", "-n", "10", TERRAFORM, f"-chdir={directory}", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
        check=False,
    )


def _init(directory: Path) -> None:
    init = _terraform(directory, "init", "-backend=false", "-input=false", f"-plugin-dir={MIRROR}")
    assert init.returncode == 0, init.stdout[-3000:] + init.stderr[-3000:]


@pytest.fixture(scope="module")
def adapted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The adapted copy, laid out as in the repository (it reads gateway/ and auth/ files), with
    the root module and the bootstrap initialized once (each terraform run loads the ~600 MB
    provider: they are kept few)."""
    root = tmp_path_factory.mktemp("provider-schema")
    stub = root / "random-stub"
    stub.mkdir()
    (stub / "main.tf").write_text(STUB, encoding="utf-8")
    copy = root / "infra" / "aws"
    shutil.copytree(INFRA, copy, ignore=shutil.ignore_patterns(".terraform*"))
    for directory in ("gateway", "auth"):
        shutil.copytree(REPO / directory, root / directory)
    assert adapt_for_the_mirror(copy, stub) >= 3
    _init(copy)
    _init(copy / "bootstrap")
    return copy


MOCKED_PROVIDER = """
mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:root" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_elb_service_account" {
    defaults = { arn = "arn:aws:iam::127311923021:root" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\\"Version\\":\\"2012-10-17\\",\\"Statement\\":[]}" }
  }
}
"""

PLAN_RUN = """
run "%(environment)s" {
  command = plan

  variables {
%(variables)s
  }

  override_data {
    target = module.network.data.aws_availability_zones.selected
    values = { names = %(zones)s }
  }

  assert {
    condition     = length(output.nat_public_ips) == %(nat_gateways)d
    error_message = "one NAT gateway in dev, one per availability zone elsewhere"
  }
}
"""

ENVIRONMENTS = ("dev", "staging", "prod")


def test_every_resource_and_argument_is_in_the_providers_schema(adapted: Path) -> None:
    for module in (adapted, adapted / "bootstrap"):
        result = _terraform(module, "validate", "-no-color")
        assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]


def test_a_misspelled_argument_fails_validation(adapted: Path) -> None:
    data = adapted / "modules" / "data" / "main.tf"
    text = data.read_text(encoding="utf-8")
    assert "storage_encrypted" in text
    try:
        data.write_text(text.replace("storage_encrypted", "storage_encryption", 1), encoding="utf-8")
        result = _terraform(adapted, "validate", "-no-color")
    finally:
        data.write_text(text, encoding="utf-8")
    assert result.returncode != 0
    assert "storage_encryption" in result.stderr + result.stdout


@pytest.mark.timeout(600)
def test_each_environment_plans_with_a_mocked_provider(adapted: Path) -> None:
    """One ``terraform test`` run per environment, each with that environment's tfvars as its
    variables (one invocation: one provider start)."""
    runs = []
    for environment in ENVIRONMENTS:
        tfvars = adapted / "envs" / f"{environment}.tfvars"
        values = parse_file(tfvars)
        zones = values["availability_zones"]
        runs.append(
            PLAN_RUN
            % {
                "environment": environment,
                "variables": tfvars.read_text(encoding="utf-8"),
                "zones": json.dumps(zones),
                "nat_gateways": 1 if values["single_nat_gateway"] else len(zones),
            }
        )
    tests = adapted / "tests-plan"
    tests.mkdir(exist_ok=True)
    (tests / "environments.tftest.hcl").write_text(MOCKED_PROVIDER + "".join(runs), encoding="utf-8")
    result = _terraform(adapted, "test", "-no-color", "-test-directory=tests-plan")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    assert "3 passed, 0 failed" in result.stdout
    for environment in ENVIRONMENTS:
        assert f'run "{environment}"... pass' in result.stdout
