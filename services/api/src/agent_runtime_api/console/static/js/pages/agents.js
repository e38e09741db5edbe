// Agents and their versions: list, create an agent, read versions, create a version from a form
// whose fields show the API's validation errors (problem+json `errors[].loc`) next to them.
import { useCallback, useEffect, useState } from "preact/hooks";

import { Field, LiveMessage, PageHeading, ProblemAlert, errorFor, unplacedErrors } from "../components.js";
import { useLoad } from "../data.js";
import { formatDateTime, formatJson } from "../format.js";
import { html } from "../html.js";

const MODEL_SUGGESTIONS = ["builtin:scripted", "openai:gpt-4o-mini", "openai:gpt-4o", "anthropic:claude-sonnet-4-5"];

/** A tool description as one line of text (some carry markup for the model, e.g. `<summary>`). */
function plain(text) {
  return (text || "").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
}

function CreateAgent({ api }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const fields = error ? error.fieldErrors() : {};

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const agent = await api.post("/agents", { name, description });
      location.hash = `#/agents/${agent.id}`;
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return html`<details class="card">
    <summary>Create an agent</summary>
    <form onSubmit=${submit} novalidate>
      <${ProblemAlert} error=${error} unplaced=${unplacedErrors(fields, ["name", "description"])} />
      <div class="form-row">
        <${Field} name="name" label="Name" hint="Unique; letters, digits, space, _ . -" error=${errorFor(fields, "name")}>
          ${(props) => html`<input ...${props} value=${name} onInput=${(event) => setName(event.currentTarget.value)} />`}
        </${Field}>
        <${Field} name="description" label="Description" error=${errorFor(fields, "description")}>
          ${(props) => html`<input ...${props} value=${description} onInput=${(event) => setDescription(event.currentTarget.value)} />`}
        </${Field}>
      </div>
      <button type="submit" disabled=${busy}>${busy ? "Creating…" : "Create agent"}</button>
    </form>
  </details>`;
}

export function AgentsPage({ api }) {
  const { data: agents, error } = useLoad(() => api.all("/agents"), [api]);
  return html`<section aria-labelledby="agents-heading">
    <${PageHeading}><span id="agents-heading">Agents</span></${PageHeading}>
    <${CreateAgent} api=${api} />
    <${ProblemAlert} error=${error} />
    ${agents === null
      ? html`<p role="status">Loading agents…</p>`
      : agents.length === 0
        ? html`<p class="empty">No agents yet.</p>`
        : html`<div class="table-wrap"><table>
            <caption class="visually-hidden">Agents, newest first</caption>
            <thead><tr><th scope="col">Name</th><th scope="col">Latest version</th><th scope="col">Description</th><th scope="col">Updated</th></tr></thead>
            <tbody>
              ${agents.map(
                (agent) => html`<tr>
                  <th scope="row"><a href=${`#/agents/${agent.id}`}>${agent.name}</a></th>
                  <td>${agent.latest_version ?? "—"}</td>
                  <td>${agent.description || html`<span class="muted">—</span>`}</td>
                  <td>${formatDateTime(agent.updated_at)}</td>
                </tr>`,
              )}
            </tbody>
          </table></div>`}
  </section>`;
}

/** A form value as the API takes it: a number when it reads as one, else the text (the API says what is wrong). */
function numberOrText(value) {
  const text = value.trim();
  if (text === "") return undefined;
  return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
}

function formFromVersion(version) {
  const settings = version?.model_settings || {};
  const limits = version?.limits || {};
  const text = (value) => (value === null || value === undefined ? "" : String(value));
  return {
    model: version?.model || "builtin:scripted",
    fallback_models: (version?.fallback_models || []).join(", "),
    instructions: version?.instructions || "",
    tools: Object.fromEntries((version?.tools || []).filter((tool) => tool.kind === "catalog" || !tool.kind).map((tool) => [tool.name, { requires_approval: !!tool.requires_approval }])),
    temperature: text(settings.temperature),
    max_tokens: text(settings.max_tokens),
    max_requests: text(limits.max_requests),
    max_total_tokens: text(limits.max_total_tokens),
    run_timeout_s: text(limits.run_timeout_s),
    approval_timeout_s: text(limits.approval_timeout_s),
    on_approval_timeout: limits.on_approval_timeout || "reject",
  };
}

function versionBody(form) {
  const drop = (object) => Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
  return {
    model: form.model.trim(),
    fallback_models: form.fallback_models.split(",").map((item) => item.trim()).filter(Boolean),
    instructions: form.instructions,
    tools: Object.entries(form.tools).map(([name, tool]) => ({ name, requires_approval: tool.requires_approval })),
    model_settings: drop({ temperature: numberOrText(form.temperature), max_tokens: numberOrText(form.max_tokens) }),
    limits: drop({
      max_requests: numberOrText(form.max_requests),
      max_total_tokens: numberOrText(form.max_total_tokens),
      run_timeout_s: numberOrText(form.run_timeout_s),
      approval_timeout_s: numberOrText(form.approval_timeout_s),
      on_approval_timeout: form.on_approval_timeout,
    }),
  };
}

const PLACED = [
  "model",
  "fallback_models",
  "instructions",
  "tools",
  "model_settings.temperature",
  "model_settings.max_tokens",
  "limits.max_requests",
  "limits.max_total_tokens",
  "limits.run_timeout_s",
  "limits.approval_timeout_s",
  "limits.on_approval_timeout",
];

function VersionForm({ api, agentId, latest, catalog, onCreated }) {
  const [form, setForm] = useState(() => formFromVersion(latest));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => setForm(formFromVersion(latest)), [latest]);
  const fields = error ? error.fieldErrors() : {};
  const kept = [
    ...(latest?.tools || []).filter((tool) => tool.kind && tool.kind !== "catalog").map((tool) => `tool ${tool.name}`),
    ...(latest?.mcp_servers || []).map((server) => `MCP server ${server.name}`),
  ];
  const set = (name) => (event) => setForm((current) => ({ ...current, [name]: event.currentTarget.value }));
  const setTool = (name, tool) =>
    setForm((current) => {
      const tools = { ...current.tools };
      if (tool) tools[name] = tool;
      else delete tools[name];
      return { ...current, tools };
    });

  async function submit(event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await api.post(`/agents/${agentId}/versions`, versionBody(form));
      onCreated(created);
    } catch (failure) {
      setError(failure);
      // Take the user to the first field the API complains about.
      setTimeout(() => document.querySelector(".version-form [aria-invalid='true']")?.focus(), 0);
    } finally {
      setBusy(false);
    }
  }

  const text = (name, label, props = {}) => html`<${Field} name=${name} label=${label} hint=${props.hint} error=${errorFor(fields, name)}>
    ${(control) => html`<input ...${control} inputmode=${props.inputmode} value=${form[props.key || name.split(".").pop()]} onInput=${set(props.key || name.split(".").pop())} />`}
  </${Field}>`;

  return html`<form class="card version-form" onSubmit=${submit} novalidate aria-labelledby="new-version-heading">
    <h2 id="new-version-heading">Create version ${latest ? latest.version + 1 : 1}</h2>
    <p class="hint">Versions are immutable: this creates a new one (prefilled from the latest); new runs use it.</p>
    ${kept.length
      ? html`<p class="alert alert-info">This form sets catalog tools only: ${kept.join(", ")} of version ${latest.version} will not be in the new version (create it with the API to keep them).</p>`
      : null}
    <${ProblemAlert} error=${error} unplaced=${unplacedErrors(fields, PLACED)} />
    <div class="form-row">
      <${Field} name="model" label="Model" hint="provider:model, e.g. builtin:scripted (offline)" error=${errorFor(fields, "model")}>
        ${(props) => html`<input ...${props} list="model-suggestions" value=${form.model} onInput=${set("model")} spellcheck=${false} />`}
      </${Field}>
      <datalist id="model-suggestions">${MODEL_SUGGESTIONS.map((model) => html`<option value=${model}></option>`)}</datalist>
      ${text("fallback_models", "Fallback models", { hint: "Comma-separated, tried in order" })}
    </div>
    <${Field} name="instructions" label="Instructions" error=${errorFor(fields, "instructions")}>
      ${(props) => html`<textarea ...${props} rows="4" value=${form.instructions} onInput=${set("instructions")}></textarea>`}
    </${Field}>
    <fieldset class=${`tools${errorFor(fields, "tools") ? " field-invalid" : ""}`} aria-describedby=${errorFor(fields, "tools") ? "tools-error" : undefined}>
      <legend>Tools (from the catalog)</legend>
      ${catalog === null
        ? html`<p role="status">Loading the tool catalog…</p>`
        : html`<ul class="tool-list">
            ${catalog.map((tool) => {
              const chosen = form.tools[tool.name];
              return html`<li>
                <label class="check"><input type="checkbox" checked=${!!chosen} onChange=${(event) => setTool(tool.name, event.currentTarget.checked ? { requires_approval: false } : null)} />
                  <code>${tool.name}</code></label>
                <label class="check sub"><input type="checkbox" disabled=${!chosen} checked=${!!chosen?.requires_approval}
                  onChange=${(event) => setTool(tool.name, { requires_approval: event.currentTarget.checked })} />
                  needs approval<span class="visually-hidden"> for ${tool.name}</span></label>
                <span class="muted tool-desc" title=${plain(tool.description)}>${plain(tool.description)}</span>
              </li>`;
            })}
          </ul>`}
      ${errorFor(fields, "tools") ? html`<p class="field-error" id="tools-error">${errorFor(fields, "tools")}</p>` : null}
    </fieldset>
    <fieldset>
      <legend>Model settings</legend>
      <div class="form-row">
        ${text("model_settings.temperature", "Temperature", { inputmode: "decimal", hint: "0 to 2; empty: the model's default" })}
        ${text("model_settings.max_tokens", "Max output tokens", { inputmode: "numeric" })}
      </div>
    </fieldset>
    <fieldset>
      <legend>Limits</legend>
      <div class="form-row">
        ${text("limits.max_requests", "Model requests per run", { inputmode: "numeric" })}
        ${text("limits.max_total_tokens", "Tokens per run", { inputmode: "numeric", hint: "Empty: no limit" })}
        ${text("limits.run_timeout_s", "Run timeout (s)", { inputmode: "numeric" })}
        ${text("limits.approval_timeout_s", "Approval timeout (s)", { inputmode: "numeric" })}
        <${Field} name="limits.on_approval_timeout" label="When an approval times out" error=${errorFor(fields, "limits.on_approval_timeout")}>
          ${(props) => html`<select ...${props} value=${form.on_approval_timeout} onChange=${set("on_approval_timeout")}>
            <option value="reject">reject the call</option>
            <option value="fail">fail the run</option>
          </select>`}
        </${Field}>
      </div>
    </fieldset>
    <button type="submit" disabled=${busy}>${busy ? "Creating…" : "Create version"}</button>
  </form>`;
}

function Version({ version, open }) {
  return html`<details class="version" open=${open}>
    <summary>Version ${version.version} · <code>${version.model}</code> · ${formatDateTime(version.created_at)}</summary>
    <dl class="facts">
      <div><dt>Fallback models</dt><dd>${version.fallback_models.join(", ") || "—"}</dd></div>
      <div><dt>Tools</dt><dd>${version.tools.length ? version.tools.map((tool) => html`<code>${tool.name}</code>${tool.requires_approval ? " (needs approval)" : ""} `) : "—"}</dd></div>
      <div><dt>Model settings</dt><dd><code>${JSON.stringify(version.model_settings)}</code></dd></div>
      <div><dt>Limits</dt><dd><code>${JSON.stringify(version.limits)}</code></dd></div>
    </dl>
    ${version.instructions ? html`<p class="label">Instructions</p><pre class="text">${version.instructions}</pre>` : null}
    <details class="raw"><summary>As JSON</summary><pre class="json">${formatJson(version)}</pre></details>
  </details>`;
}

export function AgentPage({ api, agentId }) {
  const [message, setMessage] = useState("");
  const agent = useLoad(() => api.get(`/agents/${agentId}`), [api, agentId]);
  const versions = useLoad(() => api.all(`/agents/${agentId}/versions`, {}, 200), [api, agentId]);
  const status = useLoad(() => api.get(`/agents/${agentId}/status`), [api, agentId]);
  const [catalog, setCatalog] = useState(null);
  useEffect(() => {
    api.get("/tools/catalog").then((list) => setCatalog(list.data)).catch(() => setCatalog([]));
  }, [api]);
  const created = useCallback(
    (version) => {
      setMessage(`Version ${version.version} created.`);
      versions.reload();
      agent.reload();
    },
    [versions, agent],
  );

  if (agent.error && !agent.data) {
    return html`<section><${PageHeading}>Agent</${PageHeading}><${ProblemAlert} error=${agent.error} /><p><a href="#/agents">Back to agents</a></p></section>`;
  }
  if (!agent.data) return html`<p role="status">Loading agent…</p>`;
  const latest = versions.data?.[0] || null;
  const counts = status.data?.active_runs
    ? Object.entries(status.data.active_runs).map(([name, count]) => `${count} ${name}`).join(", ")
    : "";
  return html`<article aria-labelledby="agent-heading">
    <nav class="breadcrumbs" aria-label="Breadcrumbs"><a href="#/agents">Agents</a> <span aria-hidden="true">›</span> <span aria-current="page">${agent.data.name}</span></nav>
    <${PageHeading}><span id="agent-heading">${agent.data.name}</span></${PageHeading}>
    <p class="lead">${agent.data.description || html`<span class="muted">No description.</span>`}</p>
    <dl class="facts inline">
      <div><dt>Id</dt><dd><code>${agent.data.id}</code></dd></div>
      <div><dt>Latest version</dt><dd>${agent.data.latest_version ?? "—"}</dd></div>
      ${status.data ? html`<div><dt>Status</dt><dd>${status.data.status}${counts ? ` (${counts})` : ""}</dd></div>` : null}
      <div><dt>Runs</dt><dd><a href="#/runs">See runs</a></dd></div>
    </dl>
    <${LiveMessage} message=${message} />
    <div class="agent-grid">
      <section aria-labelledby="versions-heading" class="card">
        <h2 id="versions-heading">Versions</h2>
        <${ProblemAlert} error=${versions.error} />
        ${versions.data === null
          ? html`<p role="status">Loading versions…</p>`
          : versions.data.length === 0
            ? html`<p class="empty">No versions yet: create the first one.</p>`
            : versions.data.map((version, index) => html`<${Version} key=${version.version} version=${version} open=${index === 0} />`)}
      </section>
      ${versions.data !== null
        ? html`<${VersionForm} api=${api} agentId=${agentId} latest=${latest} catalog=${catalog} onCreated=${created} />`
        : null}
    </div>
  </article>`;
}
