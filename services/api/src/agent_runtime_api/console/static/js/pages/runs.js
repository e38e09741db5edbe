// Runs: filtered list, live; start a run.
import { useCallback, useEffect, useState } from "preact/hooks";

import { Field, LiveMessage, PageHeading, ProblemAlert, StatusBadge, errorFor, unplacedErrors } from "../components.js";
import { useAgents } from "../data.js";
import { formatCost, formatDateTime, formatDuration, formatNumber, localInputToIso } from "../format.js";
import { html } from "../html.js";
import { useDebounced, useTenantEvents } from "../live.js";

export const RUN_STATUSES = ["queued", "running", "waiting", "succeeded", "failed", "cancelled", "timed_out"];
const PAGE_SIZE = 25;
const EMPTY_FILTERS = { agent_id: "", status: [], since: "", until: "" };

function StartRun({ api, agents }) {
  const [agentId, setAgentId] = useState("");
  const [input, setInput] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const fields = error ? error.fieldErrors() : {};

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const run = await api.post("/runs", { agent_id: agentId, input });
      location.hash = `#/runs/${run.id}`;
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return html`<details class="card start-run">
    <summary>Start a run</summary>
    <form onSubmit=${submit} novalidate>
      <${ProblemAlert} error=${error} unplaced=${unplacedErrors(fields, ["agent_id", "input"])} />
      <div class="form-row">
        <${Field} name="agent_id" label="Agent" error=${errorFor(fields, "agent_id")}>
          ${(props) => html`<select ...${props} value=${agentId} onChange=${(event) => setAgentId(event.currentTarget.value)}>
            <option value="">Choose an agent</option>
            ${(agents || []).map((agent) => html`<option value=${agent.id}>${agent.name}</option>`)}
          </select>`}
        </${Field}>
        <${Field} name="input" label="Input" error=${errorFor(fields, "input")}>
          ${(props) => html`<textarea ...${props} rows="2" value=${input} onInput=${(event) => setInput(event.currentTarget.value)}></textarea>`}
        </${Field}>
      </div>
      <button type="submit" disabled=${busy}>${busy ? "Starting…" : "Start run"}</button>
    </form>
  </details>`;
}

function Filters({ agents, applied, onApply, fields }) {
  const [draft, setDraft] = useState(applied);
  useEffect(() => setDraft(applied), [applied]);
  const set = (name, value) => setDraft((current) => ({ ...current, [name]: value }));
  const toggleStatus = (status, on) =>
    set("status", on ? [...draft.status, status] : draft.status.filter((item) => item !== status));
  return html`<form class="card filters" onSubmit=${(event) => {
    event.preventDefault();
    onApply(draft);
  }} aria-label="Filter runs">
    <div class="form-row">
      <${Field} name="agent_id" label="Agent" error=${errorFor(fields, "agent_id")}>
        ${(props) => html`<select ...${props} value=${draft.agent_id} onChange=${(event) => set("agent_id", event.currentTarget.value)}>
          <option value="">All agents</option>
          ${(agents || []).map((agent) => html`<option value=${agent.id}>${agent.name}</option>`)}
        </select>`}
      </${Field}>
      <${Field} name="since" label="Created from" error=${errorFor(fields, "since")}>
        ${(props) => html`<input ...${props} type="datetime-local" step="1" value=${draft.since} onInput=${(event) => set("since", event.currentTarget.value)} />`}
      </${Field}>
      <${Field} name="until" label="Created before" error=${errorFor(fields, "until")}>
        ${(props) => html`<input ...${props} type="datetime-local" step="1" value=${draft.until} onInput=${(event) => set("until", event.currentTarget.value)} />`}
      </${Field}>
    </div>
    <fieldset class="checkboxes">
      <legend>Status</legend>
      ${RUN_STATUSES.map(
        (status) => html`<label class="check">
          <input type="checkbox" name="status" value=${status} checked=${draft.status.includes(status)}
            onChange=${(event) => toggleStatus(status, event.currentTarget.checked)} />
          ${status.replace("_", " ")}
        </label>`,
      )}
    </fieldset>
    <div class="actions">
      <button type="submit">Apply filters</button>
      <button type="button" class="secondary" onClick=${() => onApply(EMPTY_FILTERS)}>Clear</button>
    </div>
  </form>`;
}

export function RunsPage({ api }) {
  const { agents, byId } = useAgents(api);
  const [filters, setFilters] = useState(EMPTY_FILTERS);
  const [runs, setRuns] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const [announcement, setAnnouncement] = useState("");

  const query = useCallback(
    (extra) => ({
      agent_id: filters.agent_id,
      status: filters.status,
      since: localInputToIso(filters.since),
      until: localInputToIso(filters.until),
      ...extra,
    }),
    [filters],
  );

  const loadFirst = useCallback(
    async (size = PAGE_SIZE) => {
      try {
        const page = await api.get("/runs", query({ limit: Math.min(size, 100) }));
        setRuns(page.data);
        setCursor(page.next_cursor);
        setError(null);
        return page.data;
      } catch (failure) {
        setError(failure);
        return null;
      }
    },
    [api, query],
  );

  const [loading, setLoading] = useState(true);
  useEffect(() => {
    // The rows shown stay until the new ones arrive (no flicker), marked busy meanwhile.
    setLoading(true);
    loadFirst()
      .then((data) => data && setAnnouncement(`${data.length} runs shown.`))
      .finally(() => setLoading(false));
  }, [loadFirst]);

  const refresh = useDebounced(() => loadFirst(Math.max(PAGE_SIZE, runs?.length || 0)), 300);
  useTenantEvents(api, (envelope, type) => {
    if (type === "tick" || type.startsWith("run.")) refresh();
  });

  async function loadMore() {
    try {
      const page = await api.get("/runs", query({ limit: PAGE_SIZE, cursor }));
      setRuns((current) => [...current, ...page.data]);
      setCursor(page.next_cursor);
      setAnnouncement(`${page.data.length} more runs loaded.`);
    } catch (failure) {
      setError(failure);
    }
  }

  const fields = error ? error.fieldErrors() : {};
  return html`<section aria-labelledby="runs-heading">
    <div class="page-head">
      <${PageHeading}><span id="runs-heading">Runs</span></${PageHeading}>
    </div>
    <${StartRun} api=${api} agents=${agents} />
    <${Filters} agents=${agents} applied=${filters} onApply=${setFilters} fields=${fields} />
    <${ProblemAlert} error=${error} unplaced=${unplacedErrors(fields, ["agent_id", "since", "until", "status"])} />
    <${LiveMessage} message=${announcement} />
    ${runs === null
      ? html`<p role="status">Loading runs…</p>`
      : runs.length === 0
        ? html`<p class="empty">No runs match these filters.</p>`
        : html`<div class="table-wrap" aria-busy=${loading ? "true" : "false"}><table class="runs">
            <caption class="visually-hidden">Runs, newest first</caption>
            <thead><tr>
              <th scope="col">Run</th><th scope="col">Agent</th><th scope="col">Status</th>
              <th scope="col">Created</th><th scope="col">Duration</th>
              <th scope="col" class="num">Tokens (in / out)</th><th scope="col" class="num">Cost</th>
            </tr></thead>
            <tbody>
              ${runs.map(
                (run) => html`<tr data-run-id=${run.id}>
                  <th scope="row"><a href=${`#/runs/${run.id}`}><code>${run.id}</code></a></th>
                  <td>${byId[run.agent_id]?.name || run.agent_id} <span class="muted">v${run.agent_version}</span></td>
                  <td><${StatusBadge} status=${run.status} /></td>
                  <td>${formatDateTime(run.created_at)}</td>
                  <td>${formatDuration(run.started_at, run.finished_at)}</td>
                  <td class="num">${formatNumber(run.usage.input_tokens)} / ${formatNumber(run.usage.output_tokens)}</td>
                  <td class="num">${formatCost(run.usage.cost_usd)}</td>
                </tr>`,
              )}
            </tbody>
          </table></div>
          ${cursor ? html`<button type="button" class="secondary" onClick=${loadMore}>Load more runs</button>` : null}`}
  </section>`;
}
