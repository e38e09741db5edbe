// Small components shared by the pages: field with its error, problem alert, status badge.
import { useEffect, useRef } from "preact/hooks";

import { html } from "./html.js";

let nextId = 0;
/** A stable id for a label/description pair. */
export function useId(prefix) {
  const ref = useRef(null);
  if (ref.current === null) ref.current = `${prefix}-${++nextId}`;
  return ref.current;
}

/**
 * A labelled form control with its hint and its error from the API (`errors[].loc` names it).
 * `children(props)` renders the control with the id and ARIA attributes it needs.
 */
export function Field({ label, hint, error, children, name }) {
  const id = useId(`field-${name || "x"}`);
  const describedBy = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ") || undefined;
  return html`<div class=${`field${error ? " field-invalid" : ""}`} data-field=${name}>
    <label for=${id}>${label}</label>
    ${hint ? html`<p class="hint" id=${`${id}-hint`}>${hint}</p>` : null}
    ${children({ id, "aria-describedby": describedBy, "aria-invalid": error ? "true" : undefined, name })}
    ${error ? html`<p class="field-error" id=${`${id}-error`}><span aria-hidden="true">⚠ </span>${error}</p>` : null}
  </div>`;
}

/** An API error as an alert: its detail, code and request id; field errors not shown next to a field. */
export function ProblemAlert({ error, unplaced = [] }) {
  if (!error) return null;
  return html`<div class="alert alert-error" role="alert">
    <p><strong>${error.title || "Error"}:</strong> ${error.message}</p>
    ${unplaced.length ? html`<ul>${unplaced.map(([loc, msg]) => html`<li><code>${loc}</code>: ${msg}</li>`)}</ul>` : null}
    ${error.code || error.requestId
      ? html`<p class="meta">${error.code ? html`code <code>${error.code}</code>` : null}${error.requestId ? html` · request <code>${error.requestId}</code>` : null}</p>`
      : null}
  </div>`;
}

/** Field errors of `error` not shown by one of the `placed` fields. */
export function unplacedErrors(fieldErrors, placed) {
  return Object.entries(fieldErrors).filter(([loc]) => !placed.some((name) => loc === name || loc.startsWith(`${name}.`)));
}

/** The error of field `name` (or of anything inside it: `tools.0.name` belongs to `tools`). */
export function errorFor(fieldErrors, name) {
  const messages = Object.entries(fieldErrors)
    .filter(([loc]) => loc === name || loc.startsWith(`${name}.`))
    .map(([loc, msg]) => (loc === name ? msg : `${loc.slice(name.length + 1)}: ${msg}`));
  return messages.length ? messages.join("; ") : null;
}

const STATUS_LABELS = { timed_out: "timed out" };

export function StatusBadge({ status }) {
  return html`<span class=${`badge status-${status}`}>${STATUS_LABELS[status] || status}</span>`;
}

/** A polite live region: screen readers announce its text when it changes. */
export function LiveMessage({ message, id }) {
  return html`<p class="live-message" role="status" aria-live="polite" id=${id}>${message || ""}</p>`;
}

let firstPage = true;

/**
 * The page heading. When another page opens it takes the focus, so keyboard and screen-reader
 * users land on the new page's title; the first page after a load leaves the focus at the top.
 */
export function PageHeading({ children }) {
  const ref = useRef(null);
  useEffect(() => {
    if (firstPage) firstPage = false;
    else ref.current?.focus({ preventScroll: false });
  }, []);
  return html`<h1 tabindex="-1" ref=${ref}>${children}</h1>`;
}

export function Loading({ what }) {
  return html`<p class="loading" role="status">Loading ${what}…</p>`;
}
