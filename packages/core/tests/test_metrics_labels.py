"""The ``tenant`` label of model usage stays bounded whatever the number of tenants."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from agent_runtime_core import metrics


@pytest.fixture
def fresh_tenants(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    seen: set[str] = set()
    monkeypatch.setattr(metrics, "_labelled_tenants", seen)
    return seen


def test_the_first_tenants_get_their_own_label_later_ones_share_other(fresh_tenants: set[str]) -> None:
    limit = metrics.TENANT_LABEL_LIMIT
    labels = [metrics.tenant_label(f"ten_{index}") for index in range(limit + 50)]
    assert labels[:limit] == [f"ten_{index}" for index in range(limit)]
    assert set(labels[limit:]) == {"other"}
    assert metrics.tenant_label("ten_0") == "ten_0"  # a known tenant keeps its label
    assert metrics.tenant_label(None) == "unknown"
    assert len(fresh_tenants) == limit


def test_usage_is_counted_under_the_tenant(fresh_tenants: set[str]) -> None:
    labels = {"provider": "openai", "model": "gpt-test-labels", "tenant": "ten_costly"}

    def sample(name: str, **extra: str) -> float:
        return REGISTRY.get_sample_value(name, {**labels, **extra}) or 0.0

    before = sample("agent_runtime_model_cost_usd_total")
    metrics.record_model_usage("openai", "gpt-test-labels", 10, 5, 0.25, tenant_id="ten_costly")
    assert sample("agent_runtime_model_cost_usd_total") == before + 0.25
    assert sample("agent_runtime_model_tokens_total", direction="input") >= 10
    assert sample("agent_runtime_model_requests_total") >= 1
