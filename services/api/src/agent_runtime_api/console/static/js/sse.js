// Server-Sent Events over fetch(): EventSource cannot send an Authorization header, so the
// console reads the stream itself and resumes with Last-Event-ID after a drop, as EventSource would.

import { ApiError } from "./api.js";

/** Parse a text/event-stream body; calls `onMessage({id, event, data})` per message. */
async function readMessages(body, onMessage) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let message = { id: null, event: "message", data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === "") {
        if (message.data.length) onMessage({ id: message.id, event: message.event, data: message.data.join("\n") });
        message = { id: null, event: "message", data: [] };
        continue;
      }
      if (line.startsWith(":")) continue; // keep-alive comment
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") message.data.push(value);
      else if (field === "event") message.event = value;
      else if (field === "id") message.id = value;
    }
  }
}

/**
 * Follow the stream at `url` until an event `isLast(type)` arrives (a run's stream ends after
 * its terminal event) or `signal` aborts. Reconnects after network errors, 5xx answers and a
 * stream closed early, with backoff, resuming after the last event received; a 401 is tried once
 * more with a token from `renew()` (an access token that expired while the stream was open); a
 * 4xx answer ends it with an ApiError.
 *
 * `onEvent(envelope, type)` gets each event's parsed `data`; `onState("live" | "reconnecting")`
 * reports the connection.
 */
export async function followStream({
  url,
  credentials,
  renew = null,
  signal,
  onEvent,
  onState,
  isLast = () => false,
  lastEventId = null,
}) {
  let last = lastEventId;
  let finished = false;
  let delay = 500;
  let renewed = false;
  while (!signal.aborted) {
    try {
      const headers = { Accept: "text/event-stream" };
      const token = await credentials();
      if (token) headers.Authorization = `Bearer ${token}`;
      if (last) headers["Last-Event-ID"] = last;
      const response = await fetch(url, { headers, signal, cache: "no-store" });
      if (!response.ok) {
        const problem = (response.headers.get("content-type") || "").includes("json") ? await response.json() : null;
        const error = new ApiError(response.status, problem);
        if (response.status === 401 && renew && !renewed) {
          renewed = true; // an expired token: once more with a renewed one
          await renew(token);
          continue;
        }
        if (response.status < 500) throw error;
        throw Object.assign(error, { retry: true });
      }
      onState?.("live");
      delay = 500;
      renewed = false;
      await readMessages(response.body, (message) => {
        if (message.id) last = message.id;
        let envelope;
        try {
          envelope = JSON.parse(message.data);
        } catch {
          return;
        }
        if (isLast(message.event)) finished = true;
        onEvent(envelope, message.event);
      });
      if (finished) return;
      throw Object.assign(new Error("the stream closed early"), { retry: true });
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      if (error instanceof ApiError && !error.retry) throw error;
      onState?.("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10000);
    }
  }
}
