// One agent for the agents-SDK test clients, in Chromium (agents-webrtc.js, on the WebRTC transport) and in
// Node (../node/agents-ws.mjs, on the WebSocket transport): a RealtimeAgent with a `get_weather` tool in a
// RealtimeSession, used as the SDK's docs show. The SDK comes in as `sdk` (its browser bundle or its npm
// package), so this module imports nothing and runs in both.

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

/**
 * Connects a weather agent's session on `transport` with `options` (`{ apiKey, url }`), says `text`, and
 * resolves once the agent has answered after running its tool: the tool's calls, the answer, the call id (WebRTC
 * only), the server event types and the session's history. `onConnected` runs once the session is connected.
 */
export async function askTheWeatherAgent(sdk, transport, options, text, onConnected = () => {}) {
  const { RealtimeAgent, RealtimeSession, tool } = sdk;
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
  const session = new RealtimeSession(agent, { transport });
  session.on("transport_event", (event) => events.push(event));
  const errors = [];
  session.on("error", (e) =>
    errors.push(JSON.stringify(e?.error ?? e, (k, v) => (v instanceof Error ? String(v) : v))),
  );

  await session.connect(options);
  onConnected();
  session.sendMessage(text);

  // The tool runs here, its output goes back, and the model answers with it.
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
