// A small chat page built the way agent-chat-ui talks to a LangGraph server: `useStream` from
// @langchain/langgraph-sdk/react for the conversation, its interrupts and the thread's history,
// and `client.threads.search` for the list of threads. Bundled by esbuild and driven in Chromium
// by drive.mjs (test_langgraph_browser.py).
//
// Configuration, as agent-chat-ui takes it: `?apiUrl=…&assistantId=…` in the URL, the API key in
// localStorage (`agent-runtime:apiKey`), and the open thread as `?threadId=…` (kept across reloads).
// `?reconnectOnMount=false` leaves reconnectOnMount off, as agent-chat-ui does today: then a
// submit that does not ask for a resumable stream (its resume) asks for on_disconnect "cancel".
import { useCallback, useEffect, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { useStream } from "@langchain/langgraph-sdk/react";

const params = new URLSearchParams(window.location.search);
const API_URL = params.get("apiUrl");
const ASSISTANT_ID = params.get("assistantId");
const API_KEY = window.localStorage.getItem("agent-runtime:apiKey") ?? undefined;
const RECONNECT_ON_MOUNT = params.get("reconnectOnMount") !== "false";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function useThreadIdInUrl() {
  const [threadId, setThreadId] = useState(() => params.get("threadId"));
  const update = useCallback((id) => {
    const url = new URL(window.location.href);
    if (id) url.searchParams.set("threadId", id);
    else url.searchParams.delete("threadId");
    window.history.replaceState(null, "", url);
    setThreadId(id);
  }, []);
  return [threadId, update];
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((block) => (typeof block === "string" ? block : block?.type === "text" ? block.text : ""))
    .join("");
}

function Message({ message }) {
  const text = textOf(message.content);
  const calls = message.type === "ai" ? (message.tool_calls ?? []) : [];
  return (
    <div className={`message ${message.type}`} data-testid="message" data-type={message.type}>
      <span className="role">{message.type === "tool" ? `tool ${message.name}` : message.type}</span>
      {text && <span className="text">{text}</span>}
      {calls.map((call) => (
        <code key={call.id} className="tool-call" data-testid="tool-call">
          {call.name}({JSON.stringify(call.args)})
        </code>
      ))}
    </div>
  );
}

// An interrupt: LangChain's human-in-the-loop request (`action_requests`) gets approve and reject
// buttons and resumes with `{decisions: [...]}`; anything else is shown as it is.
function Interrupt({ interrupt, onDecide, disabled }) {
  const request = interrupt?.value;
  const actions = request?.action_requests ?? request?.actionRequests;
  if (!Array.isArray(actions) || actions.length === 0) {
    return <pre data-testid="interrupt">{JSON.stringify(interrupt, null, 2)}</pre>;
  }
  return (
    <div className="interrupt" data-testid="interrupt">
      {actions.map((action, index) => (
        <div key={index}>
          <strong data-testid="interrupt-tool">{action.name}</strong>{" "}
          <code data-testid="interrupt-args">{JSON.stringify(action.args)}</code>
          {action.description && <p>{action.description}</p>}
        </div>
      ))}
      <button type="button" disabled={disabled} onClick={() => onDecide({ type: "approve" })}>
        Approve
      </button>
      <button
        type="button"
        disabled={disabled}
        onClick={() => onDecide({ type: "reject", message: "Not now." })}
      >
        Reject
      </button>
    </div>
  );
}

function ThreadList({ client, assistantId, currentThreadId, refreshKey, onOpen }) {
  const [threads, setThreads] = useState([]);
  const [error, setError] = useState(null);
  useEffect(() => {
    // Threads of this assistant: by `assistant_id` if it is a UUID, else as a graph id.
    const metadata = UUID.test(assistantId) ? { assistant_id: assistantId } : { graph_id: assistantId };
    client.threads
      .search({ metadata, limit: 100 })
      .then(setThreads, (reason) => setError(String(reason?.message ?? reason)));
  }, [client, assistantId, refreshKey]);
  return (
    <nav data-testid="threads" data-count={threads.length}>
      <h2>Threads</h2>
      {error && <p data-testid="threads-error">{error}</p>}
      {threads.map((thread) => {
        const first = thread.values?.messages?.[0];
        return (
          <button
            type="button"
            key={thread.thread_id}
            data-testid="thread"
            data-thread-id={thread.thread_id}
            className={thread.thread_id === currentThreadId ? "current" : ""}
            onClick={() => onOpen(thread.thread_id)}
          >
            {first ? textOf(first.content) : thread.thread_id}
          </button>
        );
      })}
    </nav>
  );
}

function Chat() {
  const [threadId, setThreadId] = useThreadIdInUrl();
  const [draft, setDraft] = useState("");
  const [threadsVersion, setThreadsVersion] = useState(0);
  const refreshThreads = useCallback(() => setThreadsVersion((n) => n + 1), []);

  const stream = useStream({
    apiUrl: API_URL,
    apiKey: API_KEY,
    assistantId: ASSISTANT_ID,
    threadId,
    onThreadId: (id) => {
      setThreadId(id);
      refreshThreads();
    },
    messagesKey: "messages",
    reconnectOnMount: RECONNECT_ON_MOUNT,
    fetchStateHistory: true,
    onFinish: refreshThreads,
  });

  const send = (event) => {
    event.preventDefault();
    const text = draft.trim();
    if (!text || stream.isLoading) return;
    const message = { id: crypto.randomUUID(), type: "human", content: [{ type: "text", text }] };
    stream.submit(
      { messages: [message] },
      {
        streamMode: ["values"],
        streamSubgraphs: true,
        streamResumable: true,
        optimisticValues: (previous) => ({
          ...previous,
          messages: [...(previous.messages ?? []), message],
        }),
      },
    );
    setDraft("");
  };

  const decide = (decision) => {
    stream.submit({}, { command: { resume: { decisions: [decision] } } });
  };

  const interrupts = stream.interrupt == null ? [] : [stream.interrupt].flat();
  const error = stream.error ? String(stream.error.message ?? stream.error) : null;

  return (
    <div className="layout">
      <ThreadList
        client={stream.client}
        assistantId={ASSISTANT_ID}
        currentThreadId={threadId}
        refreshKey={threadsVersion}
        onOpen={setThreadId}
      />
      <main>
        <header>
          <h1>Agent Runtime chat</h1>
          <span data-testid="status">{stream.isLoading ? "streaming" : "idle"}</span>
          <span data-testid="thread-id">{threadId ?? ""}</span>
          <button type="button" onClick={() => setThreadId(null)}>
            New thread
          </button>
        </header>
        <section data-testid="messages">
          {stream.messages.map((message, index) => (
            <Message key={message.id ?? index} message={message} />
          ))}
        </section>
        {interrupts.map((interrupt, index) => (
          <Interrupt key={interrupt.id ?? index} interrupt={interrupt} onDecide={decide} disabled={stream.isLoading} />
        ))}
        {error && <p data-testid="error">{error}</p>}
        <form onSubmit={send}>
          <input
            data-testid="composer"
            value={draft}
            onChange={(event) => setDraft(event.target.value)}
            placeholder="Type a message…"
          />
          <button type="submit" disabled={stream.isLoading}>
            Send
          </button>
        </form>
      </main>
    </div>
  );
}

function App() {
  const missing = useMemo(() => [!API_URL && "apiUrl", !ASSISTANT_ID && "assistantId"].filter(Boolean), []);
  if (missing.length) return <p data-testid="error">Missing in the URL: {missing.join(", ")}</p>;
  return <Chat />;
}

createRoot(document.getElementById("root")).render(<App />);
