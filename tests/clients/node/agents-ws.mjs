// Driven by crates/emulator/tests/sdk_node.rs. @openai/agents-realtime in Node as its docs show it: a
// RealtimeAgent with a tool, a RealtimeSession on the WebSocket transport (`OpenAIRealtimeWebSocket`, which in
// Node is the `ws` package with an Authorization header), `connect({ apiKey, url })` with the emulator's
// WebSocket URL. A text message that names the tool makes the emulator's scripted model call it; the tool runs
// here, its output goes back, and the model answers with it.
//
// Usage: agents-ws.mjs <ws_url> <text>. Prints one JSON object of what the session saw.
import { OpenAIRealtimeWebSocket, RealtimeAgent, RealtimeSession, tool } from "@openai/agents-realtime";

const WAIT_MS = 30000;
const [url, text] = process.argv.slice(2);

function until(check, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      let value;
      try {
        value = check();
      } catch (e) {
        return reject(e);
      }
      if (value !== undefined) return resolve(value);
      if (Date.now() - started > WAIT_MS) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

const toolCalls = [];
const events = [];
let toolRanAt = null;
const getWeather = tool({
  name: "get_weather",
  description: "Current weather for a city",
  parameters: {
    type: "object",
    properties: { location: { type: "string" } },
    required: ["location"],
    additionalProperties: false,
  },
  strict: true,
  execute: async (args) => {
    toolCalls.push(args);
    toolRanAt = events.length;
    return JSON.stringify({ temp_c: 21 });
  },
});
const agent = new RealtimeAgent({
  name: "Weather",
  instructions: "Answer questions about the weather; use the tool.",
  tools: [getWeather],
});
const transport = new OpenAIRealtimeWebSocket();
const session = new RealtimeSession(agent, { transport });
session.on("transport_event", (event) => events.push(event));
const errors = [];
session.on("error", (e) => errors.push(JSON.stringify(e?.error ?? e, (k, v) => (v instanceof Error ? String(v) : v))));

await session.connect({ apiKey: "sk-test-agents-node", url });
session.sendMessage(text);

const answer = await until(() => {
  if (errors.length) throw new Error(`the session reported errors: ${errors.join("; ")}`);
  if (toolRanAt === null) return undefined;
  const done = events
    .slice(toolRanAt)
    .filter((e) => e.type === "response.output_audio_transcript.done" || e.type === "response.output_text.done");
  return done.length >= 1 ? done[done.length - 1] : undefined;
}, "the answer after the tool call");
session.close();

console.log(
  JSON.stringify({
    toolCalls,
    answer: answer.transcript ?? answer.text,
    types: events.map((e) => e.type),
    history: session.history.map((item) => ({ type: item.type, role: item.role ?? null, name: item.name ?? null })),
  }),
);
