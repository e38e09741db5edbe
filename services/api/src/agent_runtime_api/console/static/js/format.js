// Formatting shared by the pages.

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const time = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const integer = new Intl.NumberFormat();

export function formatDateTime(value) {
  return value ? dateTime.format(new Date(value)) : "—";
}

export function formatTime(value) {
  if (!value) return "—";
  const date = new Date(value);
  return `${time.format(date)}.${String(date.getMilliseconds()).padStart(3, "0")}`;
}

export function formatNumber(value) {
  return value === null || value === undefined ? "—" : integer.format(Number(value));
}

/** USD with enough digits for cheap model calls; "—" when unknown (unpriced). */
export function formatCost(value) {
  if (value === null || value === undefined) return "—";
  const amount = Number(value);
  const digits = amount !== 0 && Math.abs(amount) < 0.01 ? 6 : 2;
  return `$${amount.toFixed(digits)}`;
}

export function formatDuration(start, end) {
  if (!start) return "—";
  const ms = (end ? new Date(end) : new Date()) - new Date(start);
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60000);
  return minutes < 60 ? `${minutes} min ${Math.round((ms % 60000) / 1000)} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function formatJson(value) {
  if (value === undefined) return "";
  if (typeof value === "string") return value;
  return JSON.stringify(value, null, 2);
}

/** A `datetime-local` input's value (local time) as an ISO instant, or undefined when empty. */
export function localInputToIso(value) {
  return value ? new Date(value).toISOString() : undefined;
}

export function shortId(id) {
  return id && id.length > 16 ? `${id.slice(0, 10)}…${id.slice(-4)}` : id;
}
