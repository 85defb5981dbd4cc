// A minimal Realtime API client over WebRTC, as a voice app would write it, driven by browser_e2e.rs.
// Every function returns a promise of plain JSON so WebDriver can hand the result back to the test.

const WAIT_MS = 15000;

let pc = null;
let dc = null;
let audio = null;
let callPath = null;
const received = []; // {at, event}, in arrival order
// The one pending wait (the test drives the page one call at a time), woken by every message and close.
let wakeWaiters = () => {};

function waitUntil(check, what, timeoutMs = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      wakeWaiters = () => {};
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received so far: ` +
        received.map((r) => r.event.type).join(", ")));
    }, timeoutMs);
    const poll = () => {
      const value = check();
      if (value !== undefined) {
        clearTimeout(timer);
        wakeWaiters = () => {};
        resolve(value);
      } else {
        wakeWaiters = poll;
      }
    };
    poll();
  });
}

async function postJson(path, key, body) {
  const res = await fetch(path, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/**
 * Mints an ephemeral key with the standard key, then connects with it. `audio` is the microphone's
 * getUserMedia constraints (default: the browser's processing, echo cancellation included).
 */
export async function connect(apiKey, { audio: micConstraints = true } = {}) {
  const minted = await postJson("/v1/realtime/client_secrets", apiKey, {
    session: { type: "realtime", model: "gpt-realtime" },
  });

  pc = new RTCPeerConnection();
  audio = document.createElement("audio");
  audio.autoplay = true;
  document.body.append(audio);
  // The remote track is only decoded once it plays somewhere.
  pc.ontrack = (e) => {
    audio.srcObject = e.streams[0] ?? new MediaStream([e.track]);
  };
  const mic = await navigator.mediaDevices.getUserMedia({ audio: micConstraints });
  pc.addTrack(mic.getAudioTracks()[0], mic);

  dc = pc.createDataChannel("oai-events");
  dc.onmessage = (e) => {
    received.push({ at: performance.now(), event: JSON.parse(e.data) });
    wakeWaiters();
  };
  const opened = new Promise((resolve, reject) => {
    dc.onopen = resolve;
    dc.onclose = () => reject(new Error("data channel closed before opening"));
  });

  const offer = await pc.createOffer();
  const offeredAt = performance.now();
  await pc.setLocalDescription(offer);
  const res = await fetch("/v1/realtime/calls", {
    method: "POST",
    headers: { Authorization: `Bearer ${minted.value}`, "Content-Type": "application/sdp" },
    body: offer.sdp,
  });
  const answer = await res.text();
  if (res.status !== 201) throw new Error(`POST /v1/realtime/calls: ${res.status} ${answer}`);
  callPath = res.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: answer });
  await opened;
  dc.onclose = () => wakeWaiters();
  pc.onconnectionstatechange = () => wakeWaiters();
  return {
    ephemeralKey: minted.value.slice(0, 3),
    location: callPath,
    answer,
    connectMs: performance.now() - offeredAt,
  };
}

/** Sends one client event; returns the cursor to wait from and the send time. */
export function send(event) {
  const cursor = received.length;
  dc.send(JSON.stringify(event));
  return { cursor, at: performance.now() };
}

/** The first event of `type` at or after `cursor`, with its index (the next cursor is index + 1). */
export function waitFor(type, cursor = 0, timeoutMs = WAIT_MS) {
  return waitUntil(() => {
    for (let i = cursor; i < received.length; i++) {
      if (received[i].event.type === type) return { index: i, at: received[i].at, event: received[i].event };
    }
    return undefined;
  }, `'${type}'`, timeoutMs);
}

/** The events between two cursors. */
export function events(from, to = received.length) {
  return received.slice(from, to).map((r) => r.event);
}

/** What the browser knows about the audio it receives (getStats inbound-rtp) and the element playing it. */
export async function audioStats() {
  const stats = await pc.getStats();
  let inbound = null;
  const codecs = {};
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") inbound = s;
    if (s.type === "codec") codecs[s.id] = s.mimeType;
  });
  if (!inbound) return { inbound: false, playing: !audio.paused };
  return {
    inbound: true,
    playing: !audio.paused,
    codec: codecs[inbound.codecId] ?? null,
    packetsReceived: inbound.packetsReceived ?? 0,
    bytesReceived: inbound.bytesReceived ?? 0,
    totalSamplesReceived: inbound.totalSamplesReceived ?? 0,
    totalAudioEnergy: inbound.totalAudioEnergy ?? 0,
    audioLevel: inbound.audioLevel ?? 0,
  };
}

let energyTrace = [];
/**
 * Samples the received audio's cumulative energy (inbound-rtp `totalAudioEnergy`) every 20 ms from now on,
 * on the same clock as the events' `at`; `energyTrace()` returns the samples as `[at, energy]` pairs.
 */
export function traceEnergy() {
  energyTrace = [];
  const sample = async () => {
    const { totalAudioEnergy = 0 } = await audioStats();
    energyTrace.push([performance.now(), totalAudioEnergy]);
  };
  setInterval(sample, 20);
  return sample();
}

export function energySamples() {
  return energyTrace;
}

/** Resolves after `ms` (lets audio flow between two measurements). */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Ends the call from the server side, as a backend with the standard key would. */
export async function hangup(apiKey) {
  const res = await fetch(`${callPath}/hangup`, {
    method: "POST",
    headers: { Authorization: `Bearer ${apiKey}` },
  });
  return { status: res.status };
}

/** Resolves once the data channel is closed; reports the connection's state then. */
export async function waitClosed() {
  await waitUntil(() => (dc.readyState === "closed" ? true : undefined), "the data channel to close");
  return { channel: dc.readyState, connection: pc.connectionState };
}

/** The user leaves: the browser closes the peer connection, as `pc.close()` in a voice app's hangup button. */
export function leave() {
  pc.close();
  return { connection: pc.connectionState };
}
