"""The Grafana dashboards (docker/grafana/dashboards) query only what a live API and worker export.

Every PromQL expression of every dashboard (panel targets, panels nested in collapsed rows, and
the ``label_values(...)`` template variable queries) is parsed with a real PromQL parser (PyPI
``promql-parser``, Rust bindings of the Prometheus-compatible ``promql-parser`` crate). From the
syntax tree we collect each metric selector's name and matcher labels, the labels of ``by`` /
``without`` / ``on`` / ``ignoring`` / ``group_left`` / ``group_right`` clauses, and the labels a
panel's legend names, and check them against what is really exported:

* the API is the real app (``create_app``) in this test process, scraped at ``GET /metrics``
  over ASGI;
* the worker is a real ``python -m agent_runtime_cli worker`` child process with
  ``AGENT_RUNTIME_WORKER_METRICS_PORT`` set, scraped over HTTP on that port;
* between them: two runs through the API against a scripted OpenAI/Anthropic wire-format server
  (``fake_llm.py``): one with a tool call, one whose model fails (a provider error, its breaker
  opens) and falls back to another provider, so the labelled counters and histograms have samples.

Prometheus adds ``job`` and ``instance`` to every scraped series and the ``up`` series itself;
those are allowed. Histogram series (``_bucket`` with ``le``, ``_sum``, ``_count``) are matched as
the exposition names them.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import pytest
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from agent_runtime_api.deps import get_principal
from agent_runtime_api.main import create_app
from agent_runtime_cli.embedded import find_free_port
from agent_runtime_core import metrics as core_metrics
from agent_runtime_core.auth import Principal
from agent_runtime_core.settings import Settings

from .crash_harness import WorkerProcesses, wait_polling, worker_environment
from .fake_llm import Answer, Fail, FakeLLM, ToolCall

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD_DIR = ROOT / "docker" / "grafana" / "dashboards"
BROKEN_DASHBOARD = Path(__file__).parent / "dashboards" / "broken.json"

PROMETHEUS_TARGET_LABELS = frozenset({"job", "instance"})
"""Labels Prometheus attaches to every series it scrapes (from the scrape config)."""
PROMETHEUS_SERIES = {"up": PROMETHEUS_TARGET_LABELS}
"""Series Prometheus records itself for every target (not in any exposition)."""

GRAFANA_DURATIONS = re.compile(
    r"\$(?:__rate_interval|__interval|__range)\b|\$\{(?:__rate_interval|__interval|__range)\}"
)
LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*(?:(?P<selector>.+?)\s*,\s*)?(?P<label>[a-zA-Z_]\w*)\s*\)\s*$", re.S
)
LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_]\w*)\s*\}\}")


# ------------------------------------------------------------------------------ the extractor


@dataclass
class Selector:
    """One metric selector: its name and the labels its matchers use."""

    metric: str
    labels: set[str]


@dataclass
class QueryRefs:
    """What one query refers to."""

    where: str
    selectors: list[Selector] = field(default_factory=list)
    grouping: list[tuple[set[str], set[str]]] = field(default_factory=list)
    """(labels of a by/on/group_x clause, metrics under that clause)."""


def grafana_to_promql(expr: str) -> str:
    """Grafana's interval variables (``$__rate_interval``...) become a duration the parser takes;
    other variables only appear inside label-matcher strings, which PromQL does not interpret."""
    return GRAFANA_DURATIONS.sub("5m", expr)


def _metrics_under(expr: Any) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(expr, visit)
    return names


def query_refs(expr_text: str, where: str) -> QueryRefs:
    """Parse ``expr_text`` (raises ``ValueError`` on a syntax error) and collect its references."""
    refs = QueryRefs(where)
    tree = promql_parser.parse(grafana_to_promql(expr_text))

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            labels = {matcher.name for matcher in node.matchers.matchers}
            for group in node.matchers.or_matchers:
                labels |= {matcher.name for matcher in group}
            labels.discard("__name__")
            if not node.name:
                raise ValueError(f"{where}: a selector without a metric name: {node}")
            refs.selectors.append(Selector(node.name, labels))
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            refs.grouping.append((set(node.modifier.labels), _metrics_under(node.expr)))
        elif isinstance(node, promql_parser.BinaryExpr) and node.modifier is not None:
            under = _metrics_under(node.lhs) | _metrics_under(node.rhs)
            if node.modifier.matching is not None:
                refs.grouping.append((set(node.modifier.matching.labels), under))
            if node.modifier.group_labels:
                refs.grouping.append((set(node.modifier.group_labels), under))

    promql_parser.walk(tree, visit)
    return refs


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row keeps its panels inside


def dashboard_refs(dashboard: dict[str, Any]) -> Iterator[tuple[QueryRefs, set[str]]]:
    """Every query of ``dashboard`` with the labels its legend (or variable) needs in the result."""
    title = dashboard.get("title", "?")
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if "expr" not in target:
                continue
            where = f"{title} / {panel.get('title')} / {target.get('refId')}"
            legend = set(LEGEND_LABEL.findall(target.get("legendFormat") or ""))
            yield query_refs(target["expr"], where), legend
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        where = f"{title} / variable {variable['name']}"
        match = LABEL_VALUES.match(query)
        if match is None:
            yield query_refs(query, where), set()
            continue
        if match.group("selector") is None:
            raise ValueError(f"{where}: label_values without a metric matches every series: {query}")
        yield query_refs(match.group("selector"), where), {match.group("label")}


def unknown_references(dashboard: dict[str, Any], exported: dict[str, frozenset[str]]) -> list[str]:
    """What ``dashboard`` queries that ``exported`` (series name → its label names) lacks."""
    known = {**exported, **PROMETHEUS_SERIES}
    problems: list[str] = []
    for refs, needed in dashboard_refs(dashboard):
        for selector in refs.selectors:
            if selector.metric not in known:
                problems.append(f"{refs.where}: metric {selector.metric} is not exported")
                continue
            missing = selector.labels - known[selector.metric] - PROMETHEUS_TARGET_LABELS
            problems += [f"{refs.where}: {selector.metric} has no label {label}" for label in sorted(missing)]
        for labels, metrics in refs.grouping:
            available = set().union(*(known.get(metric, frozenset()) for metric in metrics))
            missing = labels - available - PROMETHEUS_TARGET_LABELS
            problems += [
                f"{refs.where}: no metric of the clause has label {label}" for label in sorted(missing)
            ]
        result_labels = set().union(*(known.get(selector.metric, frozenset()) for selector in refs.selectors))
        missing = needed - result_labels - PROMETHEUS_TARGET_LABELS
        problems += [
            f"{refs.where}: legend/variable label {label} is not on its series" for label in sorted(missing)
        ]
    return problems


def exported_series(*expositions: str) -> dict[str, frozenset[str]]:
    """Series name → label names, over the samples of Prometheus text expositions."""
    labels: dict[str, set[str]] = {}
    for text in expositions:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels.setdefault(sample.name, set()).update(sample.labels)
    return {name: frozenset(names) for name, names in labels.items()}


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARD_DIR.glob("*.json"))}


def core_metric_labels() -> dict[str, frozenset[str]]:
    """Metric name → label names of every metric object defined in ``agent_runtime_core.metrics``."""
    defined: dict[str, frozenset[str]] = {}
    for value in vars(core_metrics).values():
        if isinstance(value, prometheus_metrics.MetricWrapperBase):
            defined[value._name] = frozenset(value._labelnames)  # pyright: ignore[reportPrivateUsage]
    return defined


# ------------------------------------------------------------------- tests without servers


def test_every_dashboard_query_parses_and_names_only_defined_metrics() -> None:
    dashboards = load_dashboards()
    assert set(dashboards) == {"agent-runs.json", "cost.json", "provider-health.json", "worker-health.json"}
    defined = core_metric_labels()
    # What the definitions would export (histograms as _bucket/_sum/_count, counters as _total).
    series: dict[str, frozenset[str]] = {}
    for name, labels in defined.items():
        metric = next(
            v
            for v in vars(core_metrics).values()
            if isinstance(v, prometheus_metrics.MetricWrapperBase) and v._name == name  # pyright: ignore[reportPrivateUsage]
        )
        if metric._type == "histogram":  # pyright: ignore[reportPrivateUsage]
            series |= {f"{name}_bucket": labels | {"le"}, f"{name}_sum": labels, f"{name}_count": labels}
        elif metric._type == "counter":  # pyright: ignore[reportPrivateUsage]
            series[f"{name}_total"] = labels
        else:
            series[name] = labels
    series["process_resident_memory_bytes"] = frozenset()  # prometheus_client's process collector
    queries = 0
    for name, dashboard in dashboards.items():
        assert unknown_references(dashboard, series) == [], name
        queries += sum(1 for _ in dashboard_refs(dashboard))
    assert queries >= 40


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is not installed (apt-get install prometheus)"
)
def test_prometheus_itself_parses_every_dashboard_query(tmp_path: Path) -> None:
    """A second opinion from Prometheus' own parser: each query as a recording rule."""
    exprs = [
        grafana_to_promql(target["expr"]).replace('=~"$', '=~"placeholder_')
        for dashboard in load_dashboards().values()
        for panel in _panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [{"record": f"dashboard:q{i}", "expr": e} for i, e in enumerate(exprs)],
            }
        ]
    }
    path = tmp_path / "rules.json"  # JSON is YAML
    path.write_text(json.dumps(rules))
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_dashboards_pick_their_datasource_through_a_variable() -> None:
    """Importable anywhere (Amazon Managed Grafana included): no datasource uid is hard-coded."""
    for name, dashboard in load_dashboards().items():
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", name
        assert variables["datasource"]["query"] == "prometheus", name
        text = json.dumps(dashboard)
        uids = set(re.findall(r'"uid":\s*"([^"]*)"', text)) - {dashboard["uid"]}
        assert uids == {"${datasource}"}, (name, uids)
        assert dashboard["id"] is None, name


def test_a_dashboard_with_a_misspelled_metric_or_label_is_caught() -> None:
    broken = json.loads(BROKEN_DASHBOARD.read_text())
    exported = {
        "agent_runtime_runs_finished_total": frozenset({"status"}),
        "agent_runtime_activity_duration_seconds_bucket": frozenset({"activity_type", "outcome", "le"}),
        "agent_runtime_model_requests_total": frozenset({"provider", "model"}),
    }
    assert unknown_references(broken, exported) == [
        "Broken / Misspelled metric / A: metric agent_runtime_runs_finishd_total is not exported",
        "Broken / Misspelled label / A: agent_runtime_runs_finished_total has no label state",
        "Broken / Grouping by a missing label / A: no metric of the clause has label tenant_id",
        "Broken / Nested in a collapsed row / A: metric agent_runtime_activity_duration_second_bucket is not exported",
        "Broken / Legend naming a missing label / A: legend/variable label endpoint is not on its series",
        "Broken / variable model: legend/variable label modle is not on its series",
    ]
    with pytest.raises(ValueError, match="unclosed left parenthesis"):
        query_refs("sum(rate(agent_runtime_runs_finished_total[5m])", "unbalanced")


# -------------------------------------------------------------------- the live API and worker


@pytest.fixture
def settings(worker_settings: Settings) -> Settings:
    """The API's settings: the test's queue and Redis (the breakers' states are read there)."""
    return worker_settings.model_copy(update={"database_pool_size": 3})


@pytest.fixture
async def worker_metrics_url(
    tmp_path: Path, settings: Settings, fake_llm: FakeLLM, temporal_client: Client
) -> AsyncIterator[str]:
    """A real worker process on the test's queue, serving its metrics on a free port."""
    port = find_free_port()
    env = worker_environment(
        database_url=settings.database_url,
        temporal_address=settings.temporal_address,
        task_queue=settings.temporal_task_queue,
        redis_url=settings.redis_url,
    )
    env |= {
        "AGENT_RUNTIME_WORKER_METRICS_PORT": str(port),
        "AGENT_RUNTIME_WORKER_METRICS_HOST": "127.0.0.1",
        "AGENT_RUNTIME_OPENAI_API_KEY": "sk-test",
        "AGENT_RUNTIME_OPENAI_API_BASE_URL": fake_llm.openai_base_url,
        "AGENT_RUNTIME_ANTHROPIC_API_KEY": "sk-ant-test",
        "AGENT_RUNTIME_ANTHROPIC_BASE_URL": fake_llm.anthropic_base_url,
        "AGENT_RUNTIME_MODEL_RETRY_MAX_ATTEMPTS": "1",  # one failed request: one provider error
        "AGENT_RUNTIME_MODEL_REQUEST_TIMEOUT_S": "10",
        "AGENT_RUNTIME_BREAKER_FAILURE_THRESHOLD": "1",  # ... which opens the endpoint's breaker
        "AGENT_RUNTIME_BREAKER_COOLDOWN_S": "600",
    }
    workers = WorkerProcesses(tmp_path, env)
    try:
        worker = workers.spawn()
        await wait_polling(temporal_client, settings.temporal_task_queue, worker)
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        workers.close()


@pytest.fixture
async def api(settings: Settings, tenant_id: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    app.dependency_overrides[get_principal] = lambda: Principal(tenant_id=tenant_id, subject="test")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test", timeout=60) as client:
            yield client


async def _run(api: httpx.AsyncClient, version: dict[str, Any], text: str) -> dict[str, Any]:
    created = await api.post("/v1/agents", json={"name": f"agent-{time.monotonic_ns()}", "version": version})
    assert created.status_code == 201, created.text
    started = await api.post("/v1/runs", json={"agent_id": created.json()["id"], "input": text})
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 60
    while True:
        run = (await api.get(f"/v1/runs/{started.json()['id']}")).json()
        if run["status"] in {"succeeded", "failed", "cancelled", "timed_out"}:
            return run
        assert time.monotonic() < deadline, run
        await asyncio.sleep(0.1)


async def test_dashboards_query_only_what_the_live_api_and_worker_export(
    api: httpx.AsyncClient, worker_metrics_url: str, fake_llm: FakeLLM
) -> None:
    fake_llm.script("gpt-4o", ToolCall("calculator", {"expression": "6 * 7"}), Answer("42"))
    with_tool = await _run(api, {"model": "openai:gpt-4o", "tools": [{"name": "calculator"}]}, "6 * 7?")
    assert with_tool["status"] == "succeeded", with_tool

    fake_llm.script("gpt-4o-mini", Fail(500))
    fallback = await _run(
        api, {"model": "openai:gpt-4o-mini", "fallback_models": ["anthropic:claude-sonnet-4-5"]}, "hi"
    )
    assert fallback["status"] == "succeeded", fallback

    api_text = (await api.get("/metrics")).text
    async with httpx.AsyncClient() as http:
        worker_text = (await http.get(worker_metrics_url)).text
    exported = exported_series(api_text, worker_text)
    # The scenario reached what the dashboards show (the worker's own process exported these).
    worker_series = exported_series(worker_text)
    for name in (
        "agent_runtime_runs_finished_total",
        "agent_runtime_model_tokens_total",
        "agent_runtime_model_cost_usd_total",
        "agent_runtime_provider_errors_total",
        "agent_runtime_activity_duration_seconds_bucket",
        "agent_runtime_temporal_task_queue_backlog",
    ):
        assert name in worker_series, name
    assert "agent_runtime_breaker_state" in exported_series(api_text)

    problems = [
        problem
        for dashboard in load_dashboards().values()
        for problem in unknown_references(dashboard, exported)
    ]
    assert problems == [], "\n".join(problems)
    # And against the same live series, the broken dashboard is caught.
    assert unknown_references(json.loads(BROKEN_DASHBOARD.read_text()), exported)


def test_provider_errors_are_found_behind_the_governed_models_application_error() -> None:
    """The governed model raises Temporal's ``ApplicationError`` from the provider's error: the
    activity interceptor counts that cause (the live test above found none were counted)."""
    from pydantic_ai.exceptions import ModelHTTPError
    from temporalio.exceptions import ApplicationError

    from agent_runtime_worker.observability import error_kind, provider_error

    failure = ModelHTTPError(503, "gpt-4o")
    with pytest.raises(ApplicationError) as raised:
        raise ApplicationError("model failed", non_retryable=False) from failure
    assert provider_error(raised.value) is failure
    assert error_kind(failure) == "server_error"
    assert provider_error(failure) is failure
    assert provider_error(ApplicationError("circuit breaker open")) is None
