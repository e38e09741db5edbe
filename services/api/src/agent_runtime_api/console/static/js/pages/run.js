// One run: summary, usage and cost, live event timeline, streamed text, tool calls, and its
// pending approvals and questions.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";

import { LiveMessage, PageHeading, ProblemAlert, StatusBadge } from "../components.js";
import { useAgents } from "../data.js";
import { formatCost, formatDateTime, formatDuration, formatJson, formatNumber, formatTime } from "../format.js";
import { html } from "../html.js";
import { useDebounced } from "../live.js";
import { followStream } from "../sse.js";
import { ApprovalCard, QuestionCard } from "./inbox.js";

const TERMINAL = new Set(["run.succeeded", "run.failed", "run.cancelled", "run.timed_out"]);
const TERMINAL_STATUSES = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

/** What the events say: each model response's text (streamed, then final) and each tool call. */
export function digest(events) {
  const responses = new Map();
  const calls = new Map();
  for (const event of events) {
    const data = event.data || {};
    const key = `${data.step}:${data.attempt ?? 0}`;
    if (event.type === "model.request.started") {
      responses.set(key, { step: data.step, attempt: data.attempt, model: data.model, text: "", done: false });
    } else if (event.type === "model.text.delta") {
      const response = responses.get(key) || { step: data.step, attempt: data.attempt, text: "", done: false };
      response.text += data.delta || "";
      responses.set(key, response);
    } else if (event.type === "model.request.finished") {
      const response = responses.get(key) || { step: data.step, attempt: data.attempt };
      responses.set(key, { ...response, model: data.model, text: data.text ?? response.text ?? "", toolCalls: data.tool_calls || [], done: true });
    } else if (event.type === "tool.call.started") {
      const call = calls.get(data.tool_call_id) || {};
      calls.set(data.tool_call_id, { ...call, id: data.tool_call_id, tool: data.tool, args: data.args, attempt: data.attempt, startedAt: event.at });
    } else if (event.type === "tool.call.finished") {
      const call = calls.get(data.tool_call_id) || { id: data.tool_call_id, tool: data.tool };
      calls.set(data.tool_call_id, { ...call, ok: data.ok, result: data.result, error: data.error, durationMs: data.duration_ms, truncated: data.result_truncated });
    } else if (event.type === "approval.requested" && !calls.has(data.tool_call_id)) {
      calls.set(data.tool_call_id, { id: data.tool_call_id, tool: data.tool, args: data.args, approval: "pending" });
    } else if (event.type === "approval.decided" || event.type === "approval.expired" || event.type === "approval.cancelled") {
      const call = calls.get(data.tool_call_id);
      if (call) calls.set(data.tool_call_id, { ...call, approval: data.status, reason: data.reason });
    }
  }
  return { responses: [...responses.values()], calls: [...calls.values()] };
}

/** One line of the timeline: what happened, in a few words. */
function summary(event) {
  const data = event.data || {};
  switch (event.type) {
    case "run.queued":
      return `version ${data.agent_version}`;
    case "run.started":
      return data.attempt > 1 ? `attempt ${data.attempt}` : "";
    case "run.waiting":
      return data.reason ? `${data.reason}: ${data.message || ""}` : `for ${(data.request_ids || []).join(", ")}`;
    case "model.request.started":
      return `step ${data.step}, ${data.model}`;
    case "model.request.finished":
      return data.tool_calls?.length ? `asks for ${data.tool_calls.map((call) => call.tool).join(", ")}` : "answered";
    case "model.fallback":
      return `${data.from} → ${data.to}`;
    case "tool.call.started":
      return `${data.tool}(${JSON.stringify(data.args)})`;
    case "tool.call.finished":
      return `${data.tool}: ${data.ok ? "ok" : "error"}${data.duration_ms !== undefined ? `, ${data.duration_ms} ms` : ""}`;
    case "approval.requested":
      return `${data.tool} needs a decision`;
    case "approval.decided":
      return `${data.status} by ${data.decided_by}${data.reason ? `: ${data.reason}` : ""}`;
    case "input.requested":
      return data.question || "";
    case "input.answered":
      return `by ${data.decided_by}`;
    case "run.failed":
    case "run.timed_out":
    case "run.cancelled":
      return data.error ? `${data.error.code}: ${data.error.message}` : "";
    default:
      return "";
  }
}

function Timeline({ events }) {
  // Text deltas are many and small: the text panel shows them; the timeline counts them.
  const rows = [];
  for (const event of events) {
    if (event.type === "model.text.delta") {
      const last = rows[rows.length - 1];
      if (last && last.deltas) {
        last.deltas += 1;
        last.lastSeq = event.seq;
      } else {
        rows.push({ ...event, deltas: 1, lastSeq: event.seq });
      }
    } else {
      rows.push(event);
    }
  }
  return html`<ol class="timeline" aria-label="Events" tabindex="0">
    ${rows.map(
      (event) => html`<li class=${`event type-${event.type.split(".")[0]}`} data-type=${event.type}>
        <span class="seq">${event.deltas ? `${event.seq}–${event.lastSeq}` : event.seq}</span>
        <time datetime=${event.at}>${formatTime(event.at)}</time>
        <code class="etype">${event.type}</code>
        <span class="esummary">${event.deltas ? `${event.deltas} text chunk${event.deltas > 1 ? "s" : ""} streamed` : summary(event)}</span>
      </li>`,
    )}
  </ol>`;
}

function ToolCalls({ calls }) {
  if (!calls.length) return html`<p class="empty">No tool calls.</p>`;
  return html`<div class="table-wrap"><table class="tool-calls">
    <caption class="visually-hidden">Tool calls</caption>
    <thead><tr><th scope="col">Tool</th><th scope="col">Arguments</th><th scope="col">Result</th><th scope="col">Status</th></tr></thead>
    <tbody>
      ${calls.map(
        (call) => html`<tr>
          <th scope="row"><code>${call.tool}</code></th>
          <td><pre class="json">${formatJson(call.args)}</pre></td>
          <td>${call.error
            ? html`<pre class="json error-text">${formatJson(call.error)}</pre>`
            : call.result !== undefined
              ? html`<pre class="json">${formatJson(call.result)}</pre>${call.truncated ? html`<p class="muted">(truncated)</p>` : null}`
              : html`<span class="muted">—</span>`}</td>
          <td>
            ${call.approval ? html`<${StatusBadge} status=${call.approval} /> ` : null}
            ${call.ok === true ? html`<span class="badge status-succeeded">ok</span>` : call.ok === false ? html`<span class="badge status-failed">error</span>` : call.startedAt ? html`<span class="badge status-running">running</span>` : null}
            ${call.durationMs !== undefined ? html`<span class="muted"> ${call.durationMs} ms</span>` : null}
          </td>
        </tr>`,
      )}
    </tbody>
  </table></div>`;
}

function Usage({ run }) {
  const usage = run.usage;
  return html`<dl class="stats" aria-label="Usage and cost">
    <div><dt>Model requests</dt><dd>${formatNumber(usage.requests)}</dd></div>
    <div><dt>Input tokens</dt><dd>${formatNumber(usage.input_tokens)}</dd></div>
    <div><dt>Output tokens</dt><dd>${formatNumber(usage.output_tokens)}</dd></div>
    <div><dt>Cost</dt><dd>${formatCost(usage.cost_usd)}</dd></div>
  </dl>`;
}

export function RunPage({ api, runId }) {
  const { byId } = useAgents(api);
  const [run, setRun] = useState(null);
  const [error, setError] = useState(null);
  const [events, setEvents] = useState([]);
  const [streamState, setStreamState] = useState("connecting");
  const [pending, setPending] = useState({ approvals: [], questions: [] });
  const [announcement, setAnnouncement] = useState("");
  const [cancelError, setCancelError] = useState(null);
  const announced = useRef(null);

  const loadRun = useCallback(async () => {
    try {
      const [current, approvals, questions] = await Promise.all([
        api.get(`/runs/${runId}`),
        api.get("/approvals", { run_id: runId, status: "pending", limit: 100 }),
        api.get("/questions", { run_id: runId, status: "pending", limit: 100 }),
      ]);
      setRun(current);
      setPending({ approvals: approvals.data, questions: questions.data });
      setError(null);
      if (TERMINAL_STATUSES.has(current.status) && announced.current !== current.status) {
        announced.current = current.status;
        setAnnouncement(`Run ${current.status.replace("_", " ")}.`);
      }
    } catch (failure) {
      setError(failure);
    }
  }, [api, runId]);
  const refresh = useDebounced(loadRun, 200);

  useEffect(() => {
    loadRun();
  }, [loadRun]);

  useEffect(() => {
    const controller = new AbortController();
    let buffer = [];
    let frame = null;
    const flush = () => {
      frame = null;
      const batch = buffer;
      buffer = [];
      setEvents((current) => [...current, ...batch]);
    };
    followStream({
      url: `${api.baseUrl}/runs/${encodeURIComponent(runId)}/stream`,
      credentials: api.credentials,
      renew: api.renew,
      signal: controller.signal,
      isLast: (type) => TERMINAL.has(type),
      onState: setStreamState,
      onEvent(envelope, type) {
        buffer.push(envelope);
        if (frame === null) frame = requestAnimationFrame(flush);
        if (!type.startsWith("model.text")) refresh();
      },
    })
      .then(() => !controller.signal.aborted && setStreamState("ended"))
      .catch((failure) => {
        if (!controller.signal.aborted) setStreamState(`error: ${failure.message}`);
      });
    return () => {
      controller.abort();
      if (frame !== null) cancelAnimationFrame(frame);
    };
  }, [api, runId]);

  const { responses, calls } = useMemo(() => digest(events), [events]);
  const streaming = streamState === "live" || streamState === "connecting";
  const decided = (item, message) => {
    setAnnouncement(message);
    loadRun();
  };

  async function cancel() {
    setCancelError(null);
    try {
      setRun(await api.post(`/runs/${runId}/cancel`));
      setAnnouncement("Cancellation requested.");
    } catch (failure) {
      setCancelError(failure);
    }
  }

  if (error && !run) {
    return html`<section><${PageHeading}>Run <code>${runId}</code></${PageHeading}><${ProblemAlert} error=${error} /><p><a href="#/runs">Back to runs</a></p></section>`;
  }
  if (!run) return html`<p role="status">Loading run…</p>`;
  const agentName = byId[run.agent_id]?.name;
  const finished = TERMINAL_STATUSES.has(run.status);
  return html`<article class="run" aria-labelledby="run-heading">
    <nav class="breadcrumbs" aria-label="Breadcrumbs"><a href="#/runs">Runs</a> <span aria-hidden="true">›</span> <span aria-current="page">${runId}</span></nav>
    <div class="page-head">
      <${PageHeading}><span id="run-heading">Run <code>${run.id}</code></span></${PageHeading}>
      <${StatusBadge} status=${run.status} />
      <div class="head-actions">
        ${run.temporal_ui_url
          ? html`<a class="button secondary" href=${run.temporal_ui_url} target="_blank" rel="noopener">Open in Temporal UI<span class="visually-hidden"> (workflow ${run.workflow_id}, new tab)</span></a>`
          : null}
        ${run.trace_url ? html`<a class="button secondary" href=${run.trace_url} target="_blank" rel="noopener">Trace</a>` : null}
        ${finished ? null : html`<button type="button" class="reject" onClick=${cancel}>Cancel run</button>`}
      </div>
    </div>
    <${ProblemAlert} error=${cancelError} />
    <${LiveMessage} message=${announcement} id="run-status-message" />
    <div class="run-grid">
      <section class="card" aria-labelledby="summary-heading">
        <h2 id="summary-heading">Summary</h2>
        <dl class="facts">
          <div><dt>Agent</dt><dd><a href=${`#/agents/${run.agent_id}`}>${agentName || run.agent_id}</a> v${run.agent_version}</dd></div>
          <div><dt>Created</dt><dd>${formatDateTime(run.created_at)}</dd></div>
          <div><dt>Duration</dt><dd>${formatDuration(run.started_at, run.finished_at)}</dd></div>
          <div><dt>Workflow</dt><dd><code>${run.workflow_id}</code></dd></div>
          ${run.thread_id ? html`<div><dt>Thread</dt><dd><code>${run.thread_id}</code></dd></div>` : null}
        </dl>
        <h3>Usage and cost</h3>
        <${Usage} run=${run} />
      </section>
      <section class="card" aria-labelledby="io-heading">
        <h2 id="io-heading">Input and output</h2>
        <p class="label">Input</p>
        <pre class="text">${run.input}</pre>
        <p class="label">Model text ${streaming && !finished ? html`<span class="muted">(streaming)</span>` : null}</p>
        <div class="streamed" aria-busy=${streaming && !finished ? "true" : "false"} data-testid="streamed-text">
          ${responses.length
            ? responses.map(
                (response) => html`<div class="response">
                  <p class="muted">Step ${response.step}${response.model ? ` · ${response.model}` : ""}</p>
                  ${response.text ? html`<pre class="text">${response.text}</pre>` : html`<p class="muted">${response.done ? "(no text: tool calls only)" : "…"}</p>`}
                </div>`,
              )
            : html`<p class="muted">No model text yet.</p>`}
        </div>
        ${run.status === "succeeded" && run.output !== null
          ? html`<p class="label">Output</p><pre class="text output" data-testid="run-output">${formatJson(run.output)}</pre>`
          : null}
        ${run.error ? html`<div class="alert alert-error"><strong>${run.error.code}</strong>: ${run.error.message}</div>` : null}
      </section>
    </div>
    ${pending.approvals.length || pending.questions.length
      ? html`<section aria-labelledby="waiting-heading">
          <h2 id="waiting-heading">Waiting for you</h2>
          <div class="requests">
            ${pending.approvals.map((approval) => html`<${ApprovalCard} key=${approval.id} api=${api} approval=${approval} onDecided=${decided} />`)}
            ${pending.questions.map((question) => html`<${QuestionCard} key=${question.id} api=${api} question=${question} onAnswered=${decided} />`)}
          </div>
        </section>`
      : null}
    <section class="card" aria-labelledby="tools-heading">
      <h2 id="tools-heading">Tool calls</h2>
      <${ToolCalls} calls=${calls} />
    </section>
    <section class="card" aria-labelledby="timeline-heading">
      <h2 id="timeline-heading">Timeline <span class="muted stream-state">${streamState === "ended" ? "complete" : streamState}</span></h2>
      ${events.length ? html`<${Timeline} events=${events} />` : html`<p class="muted">No events yet.</p>`}
    </section>
  </article>`;
}
