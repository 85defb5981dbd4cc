// Driven by crates/emulator/tests/sdk_node.rs. The openai SDK's `OpenAIRealtimeWS` (its `ws` transport) as its
// docs show it, against an emulator served with TLS: the SDK turns the base URL into `wss:` itself, and Node
// trusts the emulator's certificate through NODE_EXTRA_CA_CERTS. One text turn, then one tool call answered.
//
// Usage: realtime-ws.mjs <base_url>. Prints one JSON object: every server event received, and what the turns
// produced.
import OpenAI from "openai";
import { OpenAIRealtimeWS } from "openai/realtime/ws";

const WAIT_MS = 30000;
const [baseURL] = process.argv.slice(2);

const client = new OpenAI({ apiKey: "sk-test-node-sdk", baseURL });
const rt = new OpenAIRealtimeWS({ model: "gpt-realtime" }, client);
const events = [];
const waiting = [];
rt.on("event", (event) => {
  events.push(event);
  for (const w of waiting.splice(0)) {
    if (w.type === event.type) w.resolve(event);
    else waiting.push(w);
  }
});
const failed = new Promise((_, reject) => rt.on("error", (e) => reject(new Error(`SDK error: ${e.message}`))));

/** The next server event of `type` (or one already received after `from`). */
function next(type, from) {
  const seen = events.slice(from).find((e) => e.type === type);
  if (seen) return Promise.resolve(seen);
  const arrived = new Promise((resolve) => waiting.push({ type, resolve }));
  // unref: a guard against hangs that does not keep the process alive once everything is done.
  const late = new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`timed out waiting for ${type}`)), WAIT_MS).unref(),
  );
  return Promise.race([arrived, late, failed]);
}

/** Sends `items` and a response.create; resolves with the response.done. */
async function turn(items) {
  const from = events.length;
  for (const item of items) rt.send({ type: "conversation.item.create", item });
  rt.send({ type: "response.create" });
  return next("response.done", from);
}

const userText = (text) => ({ type: "message", role: "user", content: [{ type: "input_text", text }] });

await next("session.created", 0);
const from = events.length;
rt.send({
  type: "session.update",
  session: {
    type: "realtime",
    output_modalities: ["text"],
    tools: [
      {
        type: "function",
        name: "get_weather",
        description: "Current weather for a city",
        parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
      },
    ],
  },
});
await next("session.updated", from);

const first = await turn([userText("Hello from Node")]);
const text = first.response.output.find((o) => o.type === "message")?.content?.[0]?.text ?? null;

const called = await turn([userText("What does get_weather say for Paris?")]);
const call = called.response.output.find((o) => o.type === "function_call");
const answered = await turn([{ type: "function_call_output", call_id: call.call_id, output: '{"temp_c":21}' }]);
const answer = answered.response.output.find((o) => o.type === "message")?.content?.[0]?.text ?? null;

const closed = new Promise((resolve) => rt.socket.on("close", (code) => resolve(code)));
rt.close();
const closeCode = await closed;

console.log(
  JSON.stringify({
    url: rt.url.toString(),
    text,
    tool: { name: call.name, arguments: call.arguments },
    answer,
    close_code: closeCode,
    events,
  }),
);
