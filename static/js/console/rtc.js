// The WebRTC connection to the Realtime API through the console server, in either flow:
//  - ephemeral: POST /api/rt/token (the session overrides), then the SDP offer straight to `calls_url` with
//    the `ek_` key;
//  - unified: the SDP offer (and the overrides) to POST /api/rt/session, which forwards it with the
//    server's key.
// Either way the data channel `oai-events` exists before the offer and the remote track plays in `audioEl`.

import { callIdFromLocation } from "../lib/recorder-wire.js";

/** A connect that failed: `status` of the HTTP answer (0 for a network or WebRTC failure). */
export class ConnectError extends Error {
  constructor(message, { status = 0, sessionId = null, body = null } = {}) {
    super(message);
    this.name = "ConnectError";
    this.status = status;
    this.sessionId = sessionId;
    this.body = body;
  }
}

async function failure(res, what) {
  let body = null;
  let message = `${what}: HTTP ${res.status}`;
  try {
    body = await res.json();
    if (body?.error?.message) message = `${what}: ${body.error.message}`;
  } catch {
    // Not JSON: the status says enough.
  }
  return new ConnectError(message, {
    status: res.status,
    sessionId: res.headers.get("x-console-session-id"),
    body,
  });
}

/**
 * Connects. Callbacks: `onSession({sessionId, nextSeq, callId})` as soon as the console session exists,
 * `onState(component, state)` for `ice` / `peer` / `channel`, `onMessage(text)` for every data-channel
 * message, `onTrack(stream)` for the remote audio. Resolves to a connection once the offer is answered;
 * the channel opens a little later (`onState('channel', 'open')`).
 */
export async function connect({ flow, session, micTrack, audioEl, onSession, onState, onMessage, onTrack }) {
  const info = { flow, sessionId: null, callId: null, nextSeq: null };
  let token = null;
  if (flow === "ephemeral") {
    const res = await fetch("/api/rt/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(session ? { session } : {}),
    });
    if (!res.ok) throw await failure(res, "minting a key");
    token = await res.json();
    info.sessionId = token.console.session_id;
    info.nextSeq = token.console.next_seq;
    onSession({ ...info });
  }

  const pc = new RTCPeerConnection();
  const closeOnError = (e) => {
    pc.close();
    throw e;
  };
  pc.oniceconnectionstatechange = () => onState("ice", pc.iceConnectionState);
  pc.onconnectionstatechange = () => onState("peer", pc.connectionState);
  pc.ontrack = (e) => {
    const stream = e.streams[0] || new MediaStream([e.track]);
    audioEl.srcObject = stream;
    onTrack(stream);
  };
  const dc = pc.createDataChannel("oai-events");
  onState("channel", dc.readyState);
  dc.onopen = () => onState("channel", "open");
  dc.onclose = () => onState("channel", "closed");
  dc.onmessage = (e) => onMessage(typeof e.data === "string" ? e.data : "");
  let sender;
  if (micTrack) sender = pc.addTrack(micTrack, new MediaStream([micTrack]));
  else sender = pc.addTransceiver("audio", { direction: "sendrecv" }).sender;

  try {
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    let res;
    if (flow === "ephemeral") {
      res = await fetch(token.console.calls_url, {
        method: "POST",
        headers: { Authorization: `Bearer ${token.value}`, "Content-Type": "application/sdp" },
        body: offer.sdp,
      });
      if (!res.ok) throw await failure(res, "posting the offer");
      info.callId = callIdFromLocation(res.headers.get("Location"));
    } else {
      const form = new FormData();
      form.append("sdp", new Blob([offer.sdp], { type: "application/sdp" }));
      if (session) form.append("session", new Blob([JSON.stringify(session)], { type: "application/json" }));
      res = await fetch("/api/rt/session", { method: "POST", body: form });
      if (!res.ok) throw await failure(res, "starting the call");
      info.sessionId = res.headers.get("x-console-session-id");
      info.callId = res.headers.get("x-call-id");
      info.nextSeq = Number(res.headers.get("x-console-next-seq"));
      onSession({ ...info });
    }
    const answer = await res.text();
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
  } catch (e) {
    closeOnError(
      e instanceof ConnectError ? e : new ConnectError(String(e?.message || e), { sessionId: info.sessionId }),
    );
  }

  return {
    ...info,
    pc,
    dc,
    sender,
    /** Sends one client event; returns the JSON text sent, or throws when the channel is not open. */
    send(event) {
      const text = JSON.stringify(event);
      dc.send(text);
      return text;
    },
    isOpen() {
      return dc.readyState === "open";
    },
    /** The channel is open and ICE and the peer are up: an event sent now can arrive. */
    canSend() {
      const down = ["disconnected", "failed", "closed"];
      return dc.readyState === "open" && !down.includes(pc.iceConnectionState) && !down.includes(pc.connectionState);
    },
    async replaceTrack(track) {
      await sender.replaceTrack(track);
    },
    close() {
      dc.onclose = null;
      pc.oniceconnectionstatechange = null;
      pc.onconnectionstatechange = null;
      try {
        dc.close();
      } catch {
        // Already closed.
      }
      pc.close();
    },
  };
}
