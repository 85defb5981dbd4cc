// The drop-in recorder for a page of your own (what `/recorder.js` hands out): a library session of its own
// (flow `page`), both directions of the page's `oai-events` data channel recorded through the same ingest as
// the console page (createRecorder: numbered, batched, acknowledged, retried), and the call id reported once
// the page knows it. No DOM here: the channel, the peer connection and the page are EventTargets, and fetch
// and the clock are injected, so the tests drive it with fakes.
//
// Choices:
// * `dc.send` is wrapped by an own property (stop() removes it): what the page sends is recorded once the
//   channel took it, as the exact text sent. Incoming messages are heard with addEventListener, so the page's
//   own `onmessage`, `onopen`, … stay its own.
// * Events from before the session exists wait in memory with their times, and are numbered when it does.
// * Creating the session, reporting the call id and ending the session are retried as the recorder retries a
//   batch (network error, timeout, 404, 408, 429, 5xx: backoff with jitter); any other refusal is kept in
//   `lastError` and not retried (a session that cannot be created halts the recording).
// * A message that is not a JSON object with a `type` the store takes is kept as a system event holding its
//   text, as the console page does, so one odd message never gets a batch refused.
// * The call id comes from the page (`callId`, or `setCallId(id or Location)`): the server's events do not
//   carry it (`session.created` names a `sess_…` session, PROTOCOL §8.1, §15.4), and only the page sees the
//   SDP answer's `Location`.
// * The data channel closing ends the recording: flush, then the session is marked ended.
// * `sessionId`: record into a session the console already made for the call (a call through the gateway,
//   `POST /v1/realtime/calls`, answers its `X-Console-Session-Id`), from seq 2, after the server's opening
//   event; then the call has one session, with the server's own capture of it and the page's events together.

import { createRecorder } from "./recorder.js";
import { callIdFromLocation, readJson, utf8Length } from "./recorder-wire.js";

export const FLOW = "page";
const MAX_TYPE_BYTES = 128;
const MAX_TEXT = 10000;
const JSON_HEADERS = { "content-type": "application/json" };

/** Whether `text` is a JSON object with a `type` the store takes (a string of at most 128 bytes). */
export function isEventText(text) {
  let event;
  try {
    event = JSON.parse(text);
  } catch {
    return false;
  }
  return (
    !!event &&
    typeof event === "object" &&
    !Array.isArray(event) &&
    typeof event.type === "string" &&
    utf8Length(event.type) <= MAX_TYPE_BYTES
  );
}

function byteLength(data) {
  return data?.byteLength ?? data?.size ?? 0;
}

/**
 * Records `dc` (and the states of `pc`, if given) into a new session of the console at `base`
 * (`http://127.0.0.1:3000`). `page`: the window, for `pagehide`. Returns `{ stats, onChange, flush, stop,
 * setCallId, flushOnUnload, ready }`; `ready` resolves to the session id (null if it could not be created).
 */
export function createPageRecorder({
  dc,
  pc = null,
  page = null,
  base,
  label,
  callId = null,
  sessionId: existing = null,
  origin = null,
  userAgent = null,
  fetch: doFetch,
  now = () => Date.now(),
  setTimer = (fn, ms) => setTimeout(fn, ms),
  clearTimer = (h) => clearTimeout(h),
  random = Math.random,
  baseBackoffMs = 500,
  maxBackoffMs = 30000,
} = {}) {
  if (!dc || typeof dc.send !== "function" || typeof dc.addEventListener !== "function") {
    throw new TypeError("record: pass the RTCDataChannel (`oai-events`) the page sends and receives on");
  }
  if (typeof doFetch !== "function") throw new TypeError("record: fetch is required");

  let waiting = []; // [direction, event or text, ts] until the session exists
  let recorder = null;
  let sessionId = null;
  let halted = false;
  let stopped = false;
  let stopping = null;
  let ownError = null;
  let reportedCallId = null;
  let callIdTask = Promise.resolve();
  let wantedCallId = null;
  const listeners = new Set();
  let notifyQueued = false;

  function notify() {
    if (notifyQueued || !listeners.size) return;
    notifyQueued = true;
    queueMicrotask(() => {
      notifyQueued = false;
      const st = stats();
      for (const cb of listeners) cb(st);
    });
  }

  function fail(err) {
    ownError = { ...err, at: now() };
    notify();
  }

  /** One JSON request to the console: `{status, body}`, status 0 for a network error. */
  async function request(method, path, body) {
    try {
      const res = await doFetch(`${base}${path}`, {
        method,
        headers: JSON_HEADERS,
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
      return { status: res.status, body: await readJson(res) };
    } catch (e) {
      return {
        status: 0,
        body: {
          error: {
            code: "network_error",
            message:
              `could not reach the console at ${base} (${e?.message ?? e}); is it running, and is this ` +
              "page's origin in its --allow-origin?",
          },
        },
      };
    }
  }

  const transient = (status) => status === 0 || status === 404 || status === 408 || status === 429 || status >= 500;

  /** `request` until it is answered with something other than a transient failure: its answer. */
  async function retrying(method, path, body) {
    for (let attempt = 0; ; attempt++) {
      const answer = await request(method, path, body);
      if (answer.status >= 200 && answer.status < 300) return answer;
      const err = answer.body?.error ?? {};
      fail({ status: answer.status, code: err.code ?? `http_${answer.status}`, message: err.message ?? "" });
      if (!transient(answer.status)) return answer;
      const exp = Math.min(maxBackoffMs, baseBackoffMs * 2 ** attempt);
      await new Promise((resolve) => setTimer(resolve, exp / 2 + (random() * exp) / 2));
    }
  }

  function put(direction, event, ts) {
    if (recorder) recorder.record(direction, event, ts);
    else waiting.push([direction, event, ts]);
    notify();
  }

  function capture(direction, data) {
    if (stopped || halted) return;
    const ts = now();
    if (typeof data !== "string") {
      put("system", { type: "console.binary_message", direction, bytes: byteLength(data) }, ts);
    } else if (isEventText(data)) {
      put(direction, data, ts);
    } else {
      put("system", { type: "console.unparsable_message", direction, text: data.slice(0, MAX_TEXT) }, ts);
    }
  }

  function system(event) {
    if (!stopped && !halted) put("system", event, now());
  }

  // The page's side: its sends, its messages, the channel's and the connection's states.
  const hadOwnSend = Object.prototype.hasOwnProperty.call(dc, "send");
  const send = dc.send;
  function recordedSend(data) {
    const result = send.call(dc, data);
    capture("client", data);
    return result;
  }
  dc.send = recordedSend;
  const onMessage = (e) => capture("server", e.data);
  const onOpen = () => system({ type: "console.state", component: "channel", state: "open" });
  const onClose = () => {
    system({ type: "console.state", component: "channel", state: "closed" });
    stop();
  };
  const onPeer = () => system({ type: "console.state", component: "peer", state: pc.connectionState });
  const onHide = () => flushOnUnload();
  dc.addEventListener("message", onMessage);
  dc.addEventListener("open", onOpen);
  dc.addEventListener("close", onClose);
  pc?.addEventListener?.("connectionstatechange", onPeer);
  page?.addEventListener?.("pagehide", onHide);

  function unhook() {
    if (dc.send === recordedSend) {
      if (hadOwnSend) dc.send = send;
      else delete dc.send;
    }
    dc.removeEventListener("message", onMessage);
    dc.removeEventListener("open", onOpen);
    dc.removeEventListener("close", onClose);
    pc?.removeEventListener?.("connectionstatechange", onPeer);
    page?.removeEventListener?.("pagehide", onHide);
  }

  system({ type: "console.page", recorder: "recorder.js", origin, user_agent: userAgent });
  if (dc.readyState) system({ type: "console.state", component: "channel", state: dc.readyState });

  const created = existing
    ? Promise.resolve({ status: 201, body: { id: String(existing) } })
    : retrying("POST", "/api/sessions", { label, flow: FLOW });
  const ready = created.then(({ status, body }) => {
    if (status !== 201 || typeof body?.id !== "string") {
      halted = true;
      waiting = [];
      unhook();
      notify();
      return null;
    }
    sessionId = body.id;
    recorder = createRecorder({
      sessionId,
      // A session of the console's own starts with its opening event (seq 1).
      firstSeq: existing ? 2 : 1,
      fetch: doFetch,
      url: `${base}/api/sessions/${encodeURIComponent(sessionId)}/events`,
      now,
      setTimer,
      clearTimer,
      random,
    });
    recorder.onChange(notify);
    const queue = waiting;
    waiting = [];
    for (const [direction, event, ts] of queue) recorder.record(direction, event, ts);
    notify();
    return sessionId;
  });

  /** The call's id, or the `Location` of the SDP answer that names it; the first one given counts. */
  function setCallId(value) {
    const id = typeof value === "string" ? callIdFromLocation(value) : null;
    if (!id || wantedCallId) return;
    wantedCallId = id;
    callIdTask = ready.then(async (sid) => {
      if (!sid) return;
      const { status } = await retrying("PATCH", `/api/sessions/${encodeURIComponent(sid)}`, { call_id: id });
      if (status === 200) reportedCallId = id;
      notify();
    });
  }
  setCallId(callId);

  function stats() {
    const own = {
      recorded: waiting.length,
      restored: 0,
      acked: 0,
      ackedSeq: 0,
      failures: 0,
      consecutiveFailures: 0,
      omitted: 0,
      lastError: null,
      persistError: null,
      pending: waiting.length,
      inFlight: 0,
      nextSeq: 1,
      state: halted ? "halted" : "starting",
    };
    const s = recorder ? recorder.stats() : own;
    const newest = [s.lastError, ownError].filter(Boolean).sort((a, b) => b.at - a.at)[0] ?? null;
    return {
      ...s,
      state: stopped ? "stopped" : s.state,
      lastError: newest,
      sessionId,
      callId: reportedCallId,
    };
  }

  function flush() {
    return ready.then(() => Promise.all([recorder?.flush(), callIdTask])).then(() => stats());
  }

  /** Stops recording: everything recorded is stored, the call id reported, the session marked ended. */
  function stop() {
    if (stopping) return stopping;
    unhook();
    stopping = (async () => {
      const sid = await ready;
      if (sid) {
        await callIdTask;
        await recorder.close();
        await retrying("PATCH", `/api/sessions/${encodeURIComponent(sid)}`, { ended: true });
      }
      stopped = true;
      notify();
      return stats();
    })();
    return stopping;
  }

  function flushOnUnload() {
    return recorder ? recorder.flushOnUnload() : { sent: 0, remaining: waiting.length };
  }

  return {
    ready,
    stats,
    onChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    flush,
    stop,
    setCallId,
    flushOnUnload,
  };
}
