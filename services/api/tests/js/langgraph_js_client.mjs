// The real JavaScript LangGraph SDK (@langchain/langgraph-sdk, what agent-chat-ui and `useStream`
// are built on) against our API. Driven by test_langgraph_js_client.py; also runnable by hand:
//
//   node langgraph_js_client.mjs <api-url> <api-key> <chat-assistant-id> <approval-assistant-id>
//
// (or LANGGRAPH_API_URL, LANGGRAPH_API_KEY, CHAT_ASSISTANT_ID, APPROVAL_ASSISTANT_ID). Prints one
// JSON object summarizing what the client saw; the Python test asserts on it.
import { Client } from "@langchain/langgraph-sdk";

const [apiUrl, apiKey, chatAssistant, approvalAssistant] = [
  process.argv[2] ?? process.env.LANGGRAPH_API_URL,
  process.argv[3] ?? process.env.LANGGRAPH_API_KEY,
  process.argv[4] ?? process.env.CHAT_ASSISTANT_ID,
  process.argv[5] ?? process.env.APPROVAL_ASSISTANT_ID,
];
if (!apiUrl || !apiKey || !chatAssistant || !approvalAssistant) {
  console.error("usage: node langgraph_js_client.mjs <api-url> <api-key> <chat-assistant-id> <approval-assistant-id>");
  process.exit(2);
}

const client = new Client({ apiUrl, apiKey });

// What useStream (react/stream.lgp.js) sends once a component reads `stream.messages`/`values`:
// the tracked modes "values" and "messages-tuple", and, as agent-chat-ui submits,
// streamSubgraphs and streamResumable (hence onDisconnect "continue").
const STREAM_OPTIONS = {
  streamMode: ["values", "messages-tuple"],
  streamSubgraphs: true,
  streamResumable: true,
  onDisconnect: "continue",
};

async function collect(threadId, assistantId, payload) {
  const events = [];
  let created = null;
  for await (const part of client.runs.stream(threadId, assistantId, {
    ...STREAM_OPTIONS,
    ...payload,
    onRunCreated: (meta) => {
      created = meta;
    },
  })) {
    events.push(part);
  }
  const names = events.map((e) => e.event);
  const lastValues = [...events].reverse().find((e) => e.event === "values")?.data ?? null;
  // messages-tuple: data is [message chunk, metadata]; the AI text (chunk type "AIMessageChunk"
  // or "ai"), concatenated as useStream does.
  const aiText = events
    .filter((e) => e.event === "messages" && Array.isArray(e.data) && /^ai/i.test(e.data[0]?.type ?? ""))
    .map((e) => (typeof e.data[0].content === "string" ? e.data[0].content : ""))
    .join("");
  const firstMessages = events.find((e) => e.event === "messages");
  return {
    events: names,
    run_created: created,
    metadata: events.find((e) => e.event === "metadata")?.data ?? null,
    messages_event_shape: firstMessages
      ? {
          is_tuple: Array.isArray(firstMessages.data) && firstMessages.data.length === 2,
          chunk_keys: Object.keys(firstMessages.data[0] ?? {}).sort(),
          metadata_keys: Object.keys(firstMessages.data[1] ?? {}).sort(),
        }
      : null,
    streamed_ai_text: aiText,
    final_values: lastValues,
    errors: events.filter((e) => e.event === "error").map((e) => e.data),
  };
}

const summary = {};

// The assistant picker and the thread list of agent-chat-ui.
const assistants = await client.assistants.search({ limit: 100 });
summary.assistant_ids = assistants.map((a) => a.assistant_id);
const assistant = await client.assistants.get(chatAssistant);
summary.assistant = { assistant_id: assistant.assistant_id, graph_id: assistant.graph_id };

// A two-turn conversation, streamed as useStream streams it.
const thread = await client.threads.create({ metadata: { source: "js-sdk" } });
summary.thread_created = { thread_id: thread.thread_id, status: thread.status };
summary.turn1 = await collect(thread.thread_id, chatAssistant, {
  input: { messages: [{ type: "human", content: "Hello, my name is Ada." }] },
});
summary.turn2 = await collect(thread.thread_id, chatAssistant, {
  input: { messages: [{ type: "human", content: "What is my name?" }] },
});
const state = await client.threads.getState(thread.thread_id);
summary.state = { values: state.values, next: state.next, tasks: state.tasks };
const fetched = await client.threads.get(thread.thread_id);
summary.thread_after = { status: fetched.status, metadata: fetched.metadata };
const found = await client.threads.search({ metadata: { source: "js-sdk" }, limit: 10 });
summary.threads_found = found.map((t) => t.thread_id);
// useStream with fetchStateHistory (agent-chat-ui) loads the history of the thread.
const history = await client.threads.getHistory(thread.thread_id, { limit: 10 });
summary.history_length = history.length;

// An interrupt: the tool needs approval; the UI resumes it with a command.
const approvalThread = await client.threads.create();
summary.interrupted = await collect(approvalThread.thread_id, approvalAssistant, {
  input: { messages: [{ type: "human", content: "What is 6 * 7?" }] },
});
const interruptedState = await client.threads.getState(approvalThread.thread_id);
summary.interrupted_thread = {
  status: (await client.threads.get(approvalThread.thread_id)).status,
  task_interrupts: (interruptedState.tasks ?? []).flatMap((t) => t.interrupts ?? []),
};
summary.resumed = await collect(approvalThread.thread_id, approvalAssistant, {
  command: { resume: { approve: true } },
});
summary.resumed_thread = { status: (await client.threads.get(approvalThread.thread_id)).status };

// The store.
const namespace = ["prefs", "js"];
await client.store.putItem(namespace, "colour", { favourite: "teal" });
const item = await client.store.getItem(namespace, "colour");
const search = await client.store.searchItems(["prefs"], { filter: { favourite: "teal" } });
await client.store.deleteItem(namespace, "colour");
summary.store = {
  get: item ? { namespace: item.namespace, key: item.key, value: item.value } : null,
  search_keys: search.items.map((i) => i.key),
  // A missing item is a 404 (HTTPError), as from LangGraph's server.
  after_delete: await client.store.getItem(namespace, "colour").then(
    (found) => ({ found }),
    (error) => ({ status: error.status ?? null, error: String(error.message).slice(0, 200) }),
  ),
};

console.log(JSON.stringify(summary));
