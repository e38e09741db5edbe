// The inbox: approvals and questions waiting for a human across all runs; decide and answer here
// (through the run's own routes, which each item names).
import { useCallback, useEffect, useState } from "preact/hooks";

import { Field, LiveMessage, PageHeading, ProblemAlert, StatusBadge, errorFor } from "../components.js";
import { useAgents } from "../data.js";
import { formatDateTime, formatJson } from "../format.js";
import { html } from "../html.js";
import { useDebounced, useTenantEvents } from "../live.js";

const APPROVAL_STATUSES = ["pending", "approved", "rejected", "expired", "cancelled"];
const QUESTION_STATUSES = ["pending", "answered", "expired", "cancelled"];

/** One approval: what the tool would do, and the decision (with a reason) when it is pending. */
export function ApprovalCard({ api, approval, agentName, onDecided, headingLevel = 3 }) {
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState(null);
  const fields = error ? error.fieldErrors() : {};
  const Heading = `h${headingLevel}`;

  async function decide(decision) {
    setBusy(decision);
    setError(null);
    try {
      const body = reason.trim() ? { decision, reason: reason.trim() } : { decision };
      const decided = await api.post(`/runs/${approval.run_id}/approvals/${approval.id}`, body);
      onDecided?.(decided, `${decision === "approve" ? "Approved" : "Rejected"} ${approval.tool} on run ${approval.run_id}.`);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(null);
    }
  }

  const headingId = `approval-${approval.id}`;
  return html`<article class="card request" aria-labelledby=${headingId} data-approval-id=${approval.id}>
    <${Heading} id=${headingId}>
      Run tool <code>${approval.tool}</code>?
      <${StatusBadge} status=${approval.status} />
    </${Heading}>
    <dl class="facts">
      <div><dt>Run</dt><dd><a href=${`#/runs/${approval.run_id}`}><code>${approval.run_id}</code></a></dd></div>
      ${agentName ? html`<div><dt>Agent</dt><dd>${agentName}</dd></div>` : null}
      <div><dt>Requested</dt><dd>${formatDateTime(approval.requested_at)}</dd></div>
      <div><dt>${approval.status === "pending" ? "Expires" : "Decided"}</dt>
        <dd>${formatDateTime(approval.status === "pending" ? approval.expires_at : approval.decided_at)}</dd></div>
      ${approval.decided_by ? html`<div><dt>By</dt><dd>${approval.decided_by}</dd></div>` : null}
      ${approval.reason ? html`<div><dt>Reason</dt><dd>${approval.reason}</dd></div>` : null}
    </dl>
    <p class="label">Arguments</p>
    <pre class="json" tabindex="0" aria-label="Arguments">${formatJson(approval.args)}</pre>
    ${approval.status === "pending"
      ? html`<form class="decide" onSubmit=${(event) => event.preventDefault()}>
          <${ProblemAlert} error=${error} />
          <${Field} name="reason" label="Reason (optional; the model is told it when you reject)" error=${errorFor(fields, "reason")}>
            ${(props) => html`<textarea ...${props} rows="2" maxlength="2000" value=${reason} onInput=${(event) => setReason(event.currentTarget.value)}></textarea>`}
          </${Field}>
          <div class="actions">
            <button type="button" class="approve" disabled=${busy !== null} onClick=${() => decide("approve")}>
              ${busy === "approve" ? "Approving…" : "Approve"}
            </button>
            <button type="button" class="reject" disabled=${busy !== null} onClick=${() => decide("reject")}>
              ${busy === "reject" ? "Rejecting…" : "Reject"}
            </button>
          </div>
        </form>`
      : null}
  </article>`;
}

/** One question from `ask_human`, and its answer box when it is pending. */
export function QuestionCard({ api, question, agentName, onAnswered, headingLevel = 3 }) {
  const [answer, setAnswer] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const fields = error ? error.fieldErrors() : {};
  const Heading = `h${headingLevel}`;

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answered = await api.post(`/runs/${question.run_id}/input`, { request_id: question.id, answer });
      onAnswered?.(answered, `Answered the question of run ${question.run_id}.`);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  const headingId = `question-${question.id}`;
  return html`<article class="card request" aria-labelledby=${headingId} data-question-id=${question.id}>
    <${Heading} id=${headingId}>Question <${StatusBadge} status=${question.status} /></${Heading}>
    <blockquote>${question.question}</blockquote>
    <dl class="facts">
      <div><dt>Run</dt><dd><a href=${`#/runs/${question.run_id}`}><code>${question.run_id}</code></a></dd></div>
      ${agentName ? html`<div><dt>Agent</dt><dd>${agentName}</dd></div>` : null}
      <div><dt>Asked</dt><dd>${formatDateTime(question.requested_at)}</dd></div>
      ${question.answer ? html`<div><dt>Answer</dt><dd>${question.answer}</dd></div>` : null}
      ${question.decided_by ? html`<div><dt>By</dt><dd>${question.decided_by}</dd></div>` : null}
    </dl>
    ${question.status === "pending"
      ? html`<form onSubmit=${submit} novalidate>
          <${ProblemAlert} error=${error} unplaced=${Object.entries(fields).filter(([loc]) => loc !== "answer")} />
          <${Field} name="answer" label="Your answer" error=${errorFor(fields, "answer")}>
            ${(props) => html`<textarea ...${props} rows="3" value=${answer} onInput=${(event) => setAnswer(event.currentTarget.value)}></textarea>`}
          </${Field}>
          <button type="submit" disabled=${busy}>${busy ? "Sending…" : "Send answer"}</button>
        </form>`
      : null}
  </article>`;
}

function List({ api, kind, status, agentId, byId, onChange }) {
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const path = kind === "approvals" ? "/approvals" : "/questions";

  const load = useCallback(async () => {
    try {
      const page = await api.get(path, { status: status || undefined, agent_id: agentId || undefined, limit: 50 });
      setItems(page.data);
      setCursor(page.next_cursor);
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  }, [api, path, status, agentId]);
  useEffect(() => {
    setItems(null);
    load();
  }, [load]);
  const refresh = useDebounced(load, 300);
  useTenantEvents(api, (envelope, type) => {
    if (type === "tick" || type.startsWith("approval.") || type.startsWith("input.") || type.startsWith("run.")) refresh();
  });

  async function more() {
    const page = await api.get(path, { status: status || undefined, agent_id: agentId || undefined, limit: 50, cursor });
    setItems((current) => [...current, ...page.data]);
    setCursor(page.next_cursor);
  }

  const done = (item, message) => {
    onChange(message);
    load();
  };
  if (error) return html`<${ProblemAlert} error=${error} />`;
  if (items === null) return html`<p role="status">Loading ${kind}…</p>`;
  if (!items.length) return html`<p class="empty">No ${status || ""} ${kind === "approvals" ? "approvals" : "questions"}.</p>`;
  return html`<div class="requests">
    ${items.map((item) =>
      kind === "approvals"
        ? html`<${ApprovalCard} key=${item.id} api=${api} approval=${item} agentName=${byId[item.agent_id]?.name} onDecided=${done} />`
        : html`<${QuestionCard} key=${item.id} api=${api} question=${item} agentName=${byId[item.agent_id]?.name} onAnswered=${done} />`,
    )}
    ${cursor ? html`<button type="button" class="secondary" onClick=${more}>Load more</button>` : null}
  </div>`;
}

export function InboxPage({ api }) {
  const { agents, byId } = useAgents(api);
  const [kind, setKind] = useState("approvals");
  const [status, setStatus] = useState("pending");
  const [agentId, setAgentId] = useState("");
  const [message, setMessage] = useState("");
  const statuses = kind === "approvals" ? APPROVAL_STATUSES : QUESTION_STATUSES;

  function choose(next) {
    setKind(next);
    if (status && !(next === "approvals" ? APPROVAL_STATUSES : QUESTION_STATUSES).includes(status)) setStatus("pending");
  }

  return html`<section aria-labelledby="inbox-heading">
    <${PageHeading}><span id="inbox-heading">Inbox</span></${PageHeading}>
    <p class="lead">What your runs are waiting for: tool calls to approve or reject, and questions to answer.</p>
    <div class="toolbar">
      <div class="segmented" role="group" aria-label="Show">
        <button type="button" aria-pressed=${kind === "approvals"} onClick=${() => choose("approvals")}>Approvals</button>
        <button type="button" aria-pressed=${kind === "questions"} onClick=${() => choose("questions")}>Questions</button>
      </div>
      <${Field} name="status" label="Status">
        ${(props) => html`<select ...${props} value=${status} onChange=${(event) => setStatus(event.currentTarget.value)}>
          ${statuses.map((item) => html`<option value=${item}>${item}</option>`)}
          <option value="">all</option>
        </select>`}
      </${Field}>
      <${Field} name="agent" label="Agent">
        ${(props) => html`<select ...${props} value=${agentId} onChange=${(event) => setAgentId(event.currentTarget.value)}>
          <option value="">All agents</option>
          ${(agents || []).map((agent) => html`<option value=${agent.id}>${agent.name}</option>`)}
        </select>`}
      </${Field}>
    </div>
    <${LiveMessage} message=${message} />
    <h2 class="visually-hidden">${kind === "approvals" ? "Approvals" : "Questions"}</h2>
    <${List} api=${api} kind=${kind} status=${status} agentId=${agentId} byId=${byId} onChange=${setMessage} />
  </section>`;
}
