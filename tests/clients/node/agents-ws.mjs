// Driven by crates/emulator/tests/sdk_node.rs. @openai/agents-realtime in Node as its docs show it: a
// RealtimeAgent with a tool, a RealtimeSession on the WebSocket transport (`OpenAIRealtimeWebSocket`, which in
// Node is the `ws` package with an Authorization header), `connect({ apiKey, url })` with the emulator's
// WebSocket URL. A text message that names the tool makes the emulator's scripted model call it; the tool runs
// here, its output goes back, and the model answers with it.
//
// Usage: agents-ws.mjs <ws_url> <text>. Prints one JSON object of what the session saw.
import * as sdk from "@openai/agents-realtime";
import { askTheWeatherAgent } from "../pages/weather-agent.mjs";

const [url, text] = process.argv.slice(2);
const options = { apiKey: "sk-test-agents-node", url };
const seen = await askTheWeatherAgent(sdk, new sdk.OpenAIRealtimeWebSocket(), options, text);
console.log(JSON.stringify(seen));
