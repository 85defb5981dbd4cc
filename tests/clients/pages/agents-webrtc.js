// Driven by crates/console/tests/browser_agents_sdk.rs. Uses @openai/agents-realtime exactly as its docs
// show: a RealtimeAgent with a tool, a RealtimeSession on the WebRTC transport, `connect({ apiKey, url })`
// with the `value` and `console.calls_url` of the console's token answer, unchanged.
import * as sdk from "/sdk/openai-realtime-agents.mjs";
import { askTheWeatherAgent } from "./weather-agent.mjs";

/** Connects with `token` (the console's JSON), says `text`, and resolves once the agent has answered. */
async function run(token, text) {
  const options = { apiKey: token.value, url: token.console.calls_url };
  return askTheWeatherAgent(sdk, new sdk.OpenAIRealtimeWebRTC(), options, text, () => {
    document.getElementById("status").textContent = "connected";
  });
}

window.agentsTest = { run };
document.getElementById("status").textContent = "ready";
