// Usage and cost from /v1/usage, per day, agent and model, as inline SVG charts.
import { useState } from "preact/hooks";

import { BarChart } from "../charts.js";
import { Field, PageHeading, ProblemAlert } from "../components.js";
import { useAgents, useLoad } from "../data.js";
import { formatCost, formatDateTime, formatNumber } from "../format.js";
import { html } from "../html.js";

const METRICS = {
  tokens: { label: "Tokens (input + output)", value: (row) => row.input_tokens + row.output_tokens, format: formatNumber },
  cost: { label: "Cost (USD)", value: (row) => Number(row.cost_usd || 0), format: formatCost },
  requests: { label: "Model requests", value: (row) => row.requests, format: formatNumber },
};
const DAY = 86400000;

function period(days) {
  const now = new Date();
  const startOfToday = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return { since: new Date(startOfToday - (days - 1) * DAY), until: new Date(startOfToday + DAY) };
}

/** Every UTC day of the window, with the report's rows (days without usage are zero). */
function perDay(report, since, until, metric) {
  const byDay = new Map(report.groups.map((row) => [row.day, row]));
  const days = [];
  for (let time = since.getTime(); time < until.getTime(); time += DAY) {
    const day = new Date(time).toISOString().slice(0, 10);
    const row = byDay.get(day);
    days.push({ label: day, short: day.slice(5), kind: "Day (UTC)", value: row ? metric.value(row) : 0 });
  }
  return days;
}

export function UsagePage({ api }) {
  const [days, setDays] = useState("30");
  const [metricName, setMetricName] = useState("tokens");
  const { byId } = useAgents(api);
  const { since, until } = period(Number(days));
  const reports = useLoad(async () => {
    const query = (groupBy) => api.get("/usage", { since: since.toISOString(), until: until.toISOString(), group_by: groupBy });
    const [byDay, byAgent, byModel] = await Promise.all([query("day"), query("agent"), query("model")]);
    return { byDay, byAgent, byModel };
  }, [api, days]);
  const metric = METRICS[metricName];
  const data = reports.data;
  const sorted = (rows, label, kind) =>
    rows
      .map((row) => ({ label: label(row), kind, value: metric.value(row) }))
      .sort((a, b) => b.value - a.value);

  return html`<section aria-labelledby="usage-heading">
    <${PageHeading}><span id="usage-heading">Usage and cost</span></${PageHeading}>
    <form class="toolbar" onSubmit=${(event) => event.preventDefault()} aria-label="Usage period and measure">
      <${Field} name="days" label="Period">
        ${(props) => html`<select ...${props} value=${days} onChange=${(event) => setDays(event.currentTarget.value)}>
          <option value="1">Today (UTC)</option>
          <option value="7">Last 7 days</option>
          <option value="30">Last 30 days</option>
          <option value="90">Last 90 days</option>
        </select>`}
      </${Field}>
      <${Field} name="metric" label="Measure">
        ${(props) => html`<select ...${props} value=${metricName} onChange=${(event) => setMetricName(event.currentTarget.value)}>
          ${Object.entries(METRICS).map(([name, item]) => html`<option value=${name}>${item.label}</option>`)}
        </select>`}
      </${Field}>
    </form>
    <${ProblemAlert} error=${reports.error} />
    ${data === null
      ? html`<p role="status">Loading usage…</p>`
      : html`
          <dl class="stats" aria-label="Totals">
            <div><dt>Model requests</dt><dd>${formatNumber(data.byDay.totals.requests)}</dd></div>
            <div><dt>Input tokens</dt><dd>${formatNumber(data.byDay.totals.input_tokens)}</dd></div>
            <div><dt>Output tokens</dt><dd>${formatNumber(data.byDay.totals.output_tokens)}</dd></div>
            <div><dt>Cost</dt><dd>${formatCost(data.byDay.totals.cost_usd)}</dd></div>
            <div><dt>Unpriced requests</dt><dd>${formatNumber(data.byDay.totals.unpriced_requests)}</dd></div>
          </dl>
          <p class="hint">From ${formatDateTime(data.byDay.since)} to ${formatDateTime(data.byDay.until)}. Cost counts priced requests only.</p>
          <div class="charts">
            <${BarChart} id="usage-day" width=${1240} title=${`${metric.label} per day`} valueLabel=${metric.label} format=${metric.format}
              data=${perDay(data.byDay, since, until, metric)} />
            <${BarChart} id="usage-agent" title=${`${metric.label} per agent`} valueLabel=${metric.label} format=${metric.format}
              data=${sorted(data.byAgent.groups, (row) => byId[row.agent_id]?.name || row.agent_id || "(none)", "Agent")} />
            <${BarChart} id="usage-model" title=${`${metric.label} per model`} valueLabel=${metric.label} format=${metric.format}
              data=${sorted(data.byModel.groups, (row) => row.model || "(unknown)", "Model")} />
          </div>
          ${data.byDay.budget?.status?.length
            ? html`<section class="card" aria-labelledby="budget-heading">
                <h2 id="budget-heading">Budgets</h2>
                <ul>${data.byDay.budget.status.map(
                  (limit) => html`<li>${limit.name}: ${limit.used} of ${limit.limit}${limit.exhausted ? html` <strong>(used up until ${formatDateTime(limit.resets_at)})</strong>` : ""}</li>`,
                )}</ul>
              </section>`
            : null}
        `}
  </section>`;
}
