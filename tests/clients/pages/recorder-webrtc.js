// Driven by crates/console/tests/browser_recorder.rs: a page that builds its own RTCPeerConnection and
// `oai-events` channel, posts its offer to the console's gateway (`/v1/realtime/calls`) with an `ek_` key,
// and records the call with `record(pc, dc, { label })` from the console's /recorder.js, as the README shows.
// The console's origin comes in the query (`?console=http://127.0.0.1:3000`).

const CONSOLE = new URLSearchParams(location.search).get("console");
// `?one_session=1`: record into the session the gateway made for the call (its `X-Console-Session-Id`), so the
// call has one session, rather than a session of the recorder's own.
const ONE_SESSION = new URLSearchParams(location.search).has("one_session");
const status = (text) => (document.getElementById("status").textContent = text);

/** The recorder module, or why it could not be loaded. */
async function load() {
  try {
    return { module: await import(`${CONSOLE}/recorder.js`) };
  } catch (e) {
    return { error: String(e?.message ?? e) };
  }
}

/** The next message of `type` on `dc`, parsed. */
function next(dc, type) {
  return new Promise((resolve) => {
    const on = (e) => {
      const event = JSON.parse(e.data);
      if (event.type !== type) return;
      dc.removeEventListener("message", on);
      resolve(event);
    };
    dc.addEventListener("message", on);
  });
}

/**
 * Connects with `key`, records the call as `label`, says `text`, and resolves once the model has answered:
 * the events the page sent and received (as it saw them), the call's Location and the recorder's stats.
 */
async function run(key, label, text) {
  const { module, error } = await load();
  if (!module) return { imported: false, error };
  const pc = new RTCPeerConnection();
  const dc = pc.createDataChannel("oai-events");
  let rec = ONE_SESSION ? null : module.record(pc, dc, { label });
  pc.addTransceiver("audio", { direction: "sendrecv" });
  const received = [];
  dc.addEventListener("message", (e) => received.push(JSON.parse(e.data).type));
  const opened = new Promise((resolve) => dc.addEventListener("open", resolve, { once: true }));

  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const res = await fetch(`${CONSOLE}/v1/realtime/calls`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/sdp" },
    body: offer.sdp,
  });
  if (!res.ok) throw new Error(`posting the offer: HTTP ${res.status} ${await res.text()}`);
  const location = res.headers.get("Location");
  if (ONE_SESSION) rec = module.record(pc, dc, { label, sessionId: res.headers.get("X-Console-Session-Id") });
  rec.setCallId(location);
  await pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
  await opened;
  status("connected");

  const done = next(dc, "response.done");
  const sent = [
    {
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
    },
    { type: "response.create" },
  ];
  for (const event of sent) dc.send(JSON.stringify(event));
  await done;
  const stats = await rec.stop();
  pc.close();
  status("done");
  return { imported: true, sent: sent.map((e) => JSON.stringify(e)), received, location, stats };
}

/** What a page on this origin gets when it calls the recording API itself, as the recorder would. */
async function postSession() {
  try {
    const res = await fetch(`${CONSOLE}/api/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ label: "from the page", flow: "page" }),
    });
    return { status: res.status };
  } catch (e) {
    return { status: 0, error: String(e?.message ?? e) };
  }
}

window.recorderTest = { run, postSession };
status("ready");
