"""The ADOT collector configuration the ECS tasks run (``modules/observability/adot-config.yaml.tftpl``),
rendered for every combination of its switches as OpenTofu's ``templatefile`` would render it: it
must be valid YAML that the collector accepts structurally (each pipeline's components defined,
at least one pipeline), and the worker's must send exactly the gauge its autoscaling reads, under
the dimensions the scaling policy names."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
import yaml

from agent_runtime_core.metrics import TASK_QUEUE_BACKLOG

from .hcl import INFRA, Config

TEMPLATE = INFRA / "modules" / "observability" / "adot-config.yaml.tftpl"
DIRECTIVE = re.compile(r"%\{(~?)\s*(if\s+(?P<cond>.+?)|else|endif)\s*(~?)\}")


def _condition(expression: str, values: dict[str, Any]) -> bool:
    expression = expression.strip()
    compare = re.fullmatch(r'(\w+)\s*(==|!=)\s*""', expression)
    if compare:
        empty = values[compare.group(1)] == ""
        return empty if compare.group(2) == "==" else not empty
    if re.fullmatch(r"\w+", expression):
        return bool(values[expression])
    raise AssertionError(f"the test's renderer does not know {expression!r}: extend it")


def _strip_after(text: str) -> str:
    """What ``~}`` removes after a directive: spaces and tabs, then one newline (checked against
    ``terraform console``: the next line's indentation stays)."""
    return re.sub(r"\A[ \t]*(\r?\n)?", "", text)


def render(template: str, values: dict[str, Any]) -> str:
    """OpenTofu's template syntax as this template uses it: ``${name}``, ``$${`` escapes,
    ``%{ if … }``/``%{ else }``/``%{ endif }``, ``~}`` stripping the rest of the line."""
    out: list[str] = []
    stack: list[bool] = []  # is the current branch emitted
    position = 0
    trim_next = False
    for match in DIRECTIVE.finditer(template):
        text = template[position : match.start()]
        if trim_next:
            text = _strip_after(text)
        assert not match.group(1), "the test's renderer does not know %{~ (strip before): extend it"
        if all(stack):
            out.append(text)
        keyword = match.group(2).split()[0]
        if keyword == "if":
            stack.append(all(stack) and _condition(match.group("cond"), values))
        elif keyword == "else":
            parent = all(stack[:-1])
            stack[-1] = parent and not stack[-1]
        else:
            stack.pop()
        trim_next = bool(match.group(4))
        position = match.end()
    assert not stack, "an if without its endif"
    tail = template[position:]
    out.append(_strip_after(tail) if trim_next else tail)
    text = "".join(out)

    def substitute(match: re.Match[str]) -> str:
        if match.group(0).startswith("$$"):
            return match.group(0)[1:]
        return (
            str(values[match.group(1)]).lower()
            if isinstance(values[match.group(1)], bool)
            else str(values[match.group(1)])
        )

    return re.sub(r"\$\$\{[^}]*\}|\$\{(\w+)\}", substitute, text)


def variables_passed(config: Config) -> set[str]:
    """The names the module passes to templatefile (adot_common plus each call's own)."""
    text = config.text(TEMPLATE.parent)
    names = set(re.findall(r"^\s*(\w+)\s*=", text[text.index("adot_common = {") :], re.MULTILINE))
    return names


COMBINATIONS: list[dict[str, Any]] = [
    dict(zip(("otlp_endpoint", "otlp_auth_header", "amp_remote_write_url", "service"), combo, strict=True))
    for combo in itertools.product(
        ("", "https://langfuse.example.internal/api/public/otel"),
        (False, True),
        ("", "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write"),
        ("api", "worker"),
    )
]


def _values(combination: dict[str, Any]) -> dict[str, Any]:
    worker = combination["service"] == "worker"
    return {
        **combination,
        "region": "us-east-1",
        "environment": "dev",
        "scrape_interval": "30s",
        "emf_namespace": "AgentRuntime/dev",
        "emf_log_group": "/agent-runtime-dev/emf",
        "metrics_port": 9464 if worker else 8000,
        "emf_enabled": worker,
    }


def test_every_template_variable_is_passed() -> None:
    template = TEMPLATE.read_text()
    used = set(re.findall(r"(?<!\$)\$\{(\w+)\}", template)) | {
        name
        for match in DIRECTIVE.finditer(template)
        if match.group("cond")
        for name in re.findall(r"[a-z_]+", match.group("cond"))
    }
    passed = variables_passed(Config.load())
    assert used <= passed, used - passed


@pytest.mark.parametrize(
    "combination",
    COMBINATIONS,
    ids=lambda c: "-".join(f"{k}={bool(v) if k != 'service' else v}" for k, v in c.items()),
)
def test_the_rendered_configuration_is_a_collector_configuration(combination: dict[str, Any]) -> None:
    values = _values(combination)
    config = yaml.safe_load(render(TEMPLATE.read_text(), values))
    pipelines: dict[str, dict[str, list[str]]] = config["service"]["pipelines"] or {}
    if combination["service"] == "api" and not (values["otlp_endpoint"] or values["amp_remote_write_url"]):
        # The API's collector runs only when it has something to export (modules/compute).
        assert pipelines == {}
        return
    assert pipelines, "a collector without pipelines does not start"
    for name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in (config.get(kind) or {}), f"{name}: {kind} {component} is not defined"
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"]
    if values["otlp_endpoint"]:
        assert pipelines["traces"]["exporters"] == ["otlphttp/traces"]
        headers = config["exporters"]["otlphttp/traces"].get("headers", {})
        assert ("Authorization" in headers) == values["otlp_auth_header"]
        if headers:  # read by the collector from its environment (an ECS secret), not rendered
            assert headers["Authorization"] == "${env:OTLP_EXPORTER_AUTHORIZATION}"
    scrape = config["receivers"]["prometheus"]["config"]["scrape_configs"][0]
    assert scrape["static_configs"][0]["targets"] == [f"127.0.0.1:{values['metrics_port']}"]


def test_the_worker_sends_the_backlog_gauge_under_the_scaling_policys_dimensions() -> None:
    config = yaml.safe_load(render(TEMPLATE.read_text(), _values(COMBINATIONS[-1])))
    gauge = TASK_QUEUE_BACKLOG._name  # pyright: ignore[reportAttributeAccessIssue]
    labels = set(TASK_QUEUE_BACKLOG._labelnames)  # pyright: ignore[reportAttributeAccessIssue]
    emf = config["service"]["pipelines"]["metrics/emf"]
    assert emf["exporters"] == ["awsemf"]
    keep = config["processors"]["filter/backlog"]["metrics"]["metric"]
    assert keep == [f'name != "{gauge}"']  # drops every other metric
    (transform,) = config["processors"]["metricstransform/backlog"]["transforms"]
    assert transform["include"] == gauge
    renamed = {
        op["label"]: op["new_label"] for op in transform["operations"] if op["action"] == "update_label"
    }
    dimensions = {renamed.get(label, label) for label in labels}
    (declaration,) = config["exporters"]["awsemf"]["metric_declarations"]
    assert declaration["metric_name_selectors"] == [gauge]
    assert [set(group) for group in declaration["dimensions"]] == [dimensions]
    # ... and the policy reads that metric with those dimensions.
    policy_text = (INFRA / "modules" / "compute" / "autoscaling.tf").read_text()
    assert f'metric_name = "{gauge}"' in policy_text
    for dimension in dimensions:
        assert f'name  = "{dimension}"' in policy_text or f'name = "{dimension}"' in policy_text, dimension


def test_the_renderer_follows_opentofus_trimming() -> None:
    """Outputs of ``templatefile`` in ``terraform console`` (1.11) for these templates."""
    template = "a:\n%{ if on ~}\n  b: ${x}\n%{ endif ~}\nc: $${env:Y}\n"
    assert render(template, {"on": True, "x": 1}) == "a:\n  b: 1\nc: ${env:Y}\n"
    assert render(template, {"on": False, "x": 1}) == "a:\nc: ${env:Y}\n"
    blank_line = "a:\n%{ if on ~}  \n\n  b: ${x}\n%{ endif }\nc\n"
    assert render(blank_line, {"on": True, "x": 1}) == "a:\n\n  b: 1\n\nc\n"
