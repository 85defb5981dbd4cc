// Driven by crates/console/tests/browser_agents_sdk.rs. Uses @openai/agents-realtime exactly as its docs
// show: a RealtimeAgent with a tool, a RealtimeSession on the WebRTC transport, `connect({ apiKey, url })`
// with the `value` and `console.calls_url` of the console's token answer, unchanged.
import { OpenAIRealtimeWebRTC, RealtimeAgent, RealtimeSession, tool } from "/sdk/openai-realtime-agents.mjs";

const WAIT_MS = 30000;

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

/** Connects with `token` (the console's JSON), says `text`, and resolves once the agent has answered. */
async function run(token, text) {
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
  const transport = new OpenAIRealtimeWebRTC();
  const session = new RealtimeSession(agent, { transport });
  session.on("transport_event", (event) => events.push(event));
  const errors = [];
  session.on("error", (e) =>
    errors.push(JSON.stringify(e?.error ?? e, (k, v) => (v instanceof Error ? String(v) : v))),
  );

  await session.connect({ apiKey: token.value, url: token.console.calls_url });
  document.getElementById("status").textContent = "connected";
  session.sendMessage(text);

  // The tool runs in the page, its output goes back, and the model answers with it.
  const answer = await until(() => {
    if (errors.length) throw new Error(`the session reported errors: ${errors.join("; ")}`);
    if (toolRanAt === null) return undefined;
    const done = events
      .slice(toolRanAt)
      .filter((e) => e.type === "response.output_audio_transcript.done" || e.type === "response.output_text.done");
    return done.length >= 1 ? done[done.length - 1] : undefined;
  }, "the answer after the tool call");
  const callId = transport.callId;
  session.close();
  return {
    toolCalls,
    answer: answer.transcript ?? answer.text,
    callId,
    types: events.map((e) => e.type),
    history: session.history.map((item) => ({ type: item.type, role: item.role ?? null, name: item.name ?? null })),
  };
}

window.agentsTest = { run };
document.getElementById("status").textContent = "ready";
