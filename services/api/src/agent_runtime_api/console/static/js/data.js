// Data hooks shared by pages.
import { useCallback, useEffect, useState } from "preact/hooks";

/** The tenant's agents (up to 500), by id too; reloaded with `reload()`. */
export function useAgents(api) {
  const [agents, setAgents] = useState(null);
  const [error, setError] = useState(null);
  const reload = useCallback(async () => {
    try {
      setAgents(await api.all("/agents"));
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  }, [api]);
  useEffect(() => {
    reload();
  }, [reload]);
  const byId = {};
  for (const agent of agents || []) byId[agent.id] = agent;
  return { agents, byId, error, reload };
}

/** The result of `load()` (re-run when `deps` change), its error, and `reload()`. */
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const run = useCallback(async () => {
    setState((previous) => ({ ...previous, loading: true }));
    try {
      const data = await load();
      setState({ data, error: null, loading: false });
    } catch (error) {
      if (error.name === "AbortError") return;
      setState((previous) => ({ data: previous.data, error, loading: false }));
    }
  }, deps);
  useEffect(() => {
    run();
  }, [run]);
  return { ...state, reload: run };
}
