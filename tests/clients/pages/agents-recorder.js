// Driven by crates/console/tests/browser_recorder.rs. The agents SDK's RealtimeSession on its WebRTC
// transport, pointed at the console's gateway (`baseUrl`), recorded with the console's /recorder.js as the
// README shows: the transport's `changePeerConnection` hook hands over the peer connection while its data
// channel (`connectionState.dataChannel`) is not open yet, so the first `session.update` is recorded too; the
// call id is the transport's once connected. The console's origin comes in the query (`?console=…`).
import * as sdk from "/sdk/openai-realtime-agents.mjs";
import { askTheWeatherAgent } from "./weather-agent.mjs";

const CONSOLE = new URLSearchParams(location.search).get("console");

/** Connects with the ephemeral `key`, says `text`, and resolves once the agent has answered. */
async function run(key, label, text) {
  const { record } = await import(`${CONSOLE}/recorder.js`);
  let rec = null;
  const transport = new sdk.OpenAIRealtimeWebRTC({
    baseUrl: `${CONSOLE}/v1/realtime/calls`,
    changePeerConnection: (pc) => {
      rec = record(pc, transport.connectionState.dataChannel, { label });
      return pc;
    },
  });
  const result = await askTheWeatherAgent(sdk, transport, { apiKey: key }, text, () => {
    rec.setCallId(transport.callId);
    document.getElementById("status").textContent = "connected";
  });
  // The session closed its channel, which ends the recording; stop() waits for that end.
  const recorder = await rec.stop();
  return { ...result, recorder };
}

window.agentsRecorderTest = { run };
document.getElementById("status").textContent = "ready";
