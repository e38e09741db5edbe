// One connection to the tenant's event stream (GET /v1/events/stream) shared by every component
// that wants live updates; opened for the first subscriber, closed after the last one leaves.
import { useEffect, useRef, useState } from "preact/hooks";

import { followStream } from "./sse.js";

const subscribers = new Set();
const stateListeners = new Set();
let controller = null;
let state = "idle";

function setState(next) {
  state = next;
  for (const listener of stateListeners) listener(next);
}

function connect(api) {
  controller = new AbortController();
  const { signal } = controller;
  setState("connecting");
  followStream({
    url: `${api.baseUrl}/events/stream`,
    credentials: api.credentials,
    renew: api.renew,
    signal,
    onState: setState,
    onEvent(envelope, type) {
      for (const subscriber of subscribers) subscriber(envelope, type);
    },
  }).catch(() => {
    // Not allowed or not available (e.g. a role without the permission): pages keep polling.
    if (!signal.aborted) setState("unavailable");
  });
}

/**
 * Call `onEvent(envelope, type)` for each event of the tenant's runs while the component is
 * mounted, and `onEvent(null, "tick")` every `pollMs` too (a safety net when the stream is down).
 */
export function useTenantEvents(api, onEvent, pollMs = 15000) {
  const latest = useRef(onEvent);
  latest.current = onEvent;
  useEffect(() => {
    const subscriber = (envelope, type) => latest.current(envelope, type);
    subscribers.add(subscriber);
    if (!controller) connect(api);
    const timer = setInterval(() => latest.current(null, "tick"), pollMs);
    return () => {
      clearInterval(timer);
      subscribers.delete(subscriber);
      if (!subscribers.size && controller) {
        controller.abort();
        controller = null;
        setState("idle");
      }
    };
  }, [api, pollMs]);
}

/** The shared connection's state: `connecting`, `live`, `reconnecting`, `unavailable` or `idle`. */
export function useLiveState() {
  const [current, setCurrent] = useState(state);
  useEffect(() => {
    stateListeners.add(setCurrent);
    setCurrent(state);
    return () => stateListeners.delete(setCurrent);
  }, []);
  return current;
}

/** Stop the shared connection (sign-out). */
export function disconnect() {
  if (controller) controller.abort();
  controller = null;
  subscribers.clear();
  setState("idle");
}

/** Run `callback` at most once per `ms` (the last call wins), for refreshes triggered by events. */
export function useDebounced(callback, ms = 250) {
  const timer = useRef(null);
  const latest = useRef(callback);
  latest.current = callback;
  useEffect(() => () => clearTimeout(timer.current), []);
  return (...args) => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => latest.current(...args), ms);
  };
}
