// The audio half of the flight recorder: ships the MediaRecorder chunks of a session's tracks to
// `PUT /api/sessions/{id}/audio/{track}/{seq}` until the server acknowledges each one. IO (fetch, clock,
// timers, randomness, the chunk store) is injected, so the tests drive the whole state machine with fakes.
//
// Guarantees and choices (the event recorder's, lib/recorder.js, where they apply):
// * `add()` never awaits and never throws on IO: the chunk is queued, written to `store` (IndexedDB in the
//   page, lib/audio-store.js) and sent. It leaves the store only once the server acknowledged it, so a reload
//   or a closed tab leaves it there for the next page (`resumeAudio`), and a server restart is one more
//   failure to back off from.
// * PUT by track and seq is idempotent: a resend of the same bytes after a lost answer is `200
//   {stored:false}`, acknowledged like a `201`. Nothing is stored twice, and the resend is the same Blob.
// * One request in flight, oldest chunk first; chunks of both tracks share the queue.
// * Network error, timeout, 5xx, 404, 408: exponential backoff with jitter; 429/503 honour Retry-After.
//   404 is retried: a restarting server may not see the session yet.
// * Any other 4xx (409 `audio_chunk_conflict` or `audio_format_mismatch`, 413, 400) is not something a
//   resend fixes: the uploader halts, keeps the chunk (and the store's copy) and surfaces `lastError`;
//   `retry()` tries again.

import { parseRetryAfter, readJson } from "./recorder-wire.js";

const RETRY_AFTER_CAP_MS = 5 * 60 * 1000;
export const TRACKS = ["user", "model"];

/** The store's key of a chunk. */
export const chunkId = (sessionId, track, seq) => `${sessionId}/${track}/${seq}`;

/** Base64 of the bytes (`btoa` exists in browsers and Node ≥ 16). */
export function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const sizeOf = (body) => (body == null ? 0 : (body.size ?? body.byteLength ?? body.length ?? 0));

export function createAudioUploader({
  sessionId,
  fetch: doFetch,
  store = null,
  restored = [],
  now = () => Date.now(),
  setTimer = (fn, ms) => setTimeout(fn, ms),
  clearTimer = (h) => clearTimeout(h),
  random = Math.random,
  baseBackoffMs = 500,
  maxBackoffMs = 30000,
  requestTimeoutMs = 30000,
} = {}) {
  if (!sessionId) throw new TypeError("createAudioUploader: sessionId is required");
  if (typeof doFetch !== "function") throw new TypeError("createAudioUploader: fetch is required");

  let items = []; // {id, track, seq, mime, start, peaks, body, bytes}, in the order added
  let inFlight = null;
  let requestId = 0;
  let timer = null,
    timerKind = null,
    timerDue = 0,
    timeoutTimer = null;
  let notBefore = 0;
  let halted = false,
    closing = false,
    closed = false;
  let waiters = [];
  const listeners = new Set();
  let notifyQueued = false;
  let storeOps = Promise.resolve(); // the store's writes, in order: a delete never overtakes its put
  const s = {
    chunks: 0,
    bytes: 0,
    restored: 0,
    uploaded: 0,
    uploadedBytes: 0,
    duplicates: 0,
    failures: 0,
    consecutiveFailures: 0,
    lastError: null,
    persistError: null,
    tracks: {}, // track → {chunks, bytes, seconds}
  };

  for (const r of restored) {
    if (r.sessionId !== sessionId) continue;
    items.push({ ...r, bytes: sizeOf(r.body) });
    s.restored++;
  }
  items.sort((a, b) => a.start - b.start || a.seq - b.seq);

  function storeOp(fn) {
    if (!store) return;
    storeOps = storeOps
      .then(fn)
      .then(() => {
        s.persistError = null;
      })
      .catch((e) => {
        // Quota or a closed database: the in-memory queue still holds the chunk.
        s.persistError = String(e?.message ?? e);
        notify();
      });
  }

  function state() {
    if (closed) return "closed";
    if (halted) return "halted";
    if (inFlight) return "sending";
    if (timerKind === "backoff") return "backoff";
    return items.length ? "waiting" : "idle";
  }

  function stats() {
    const pendingBytes = items.reduce((n, i) => n + i.bytes, 0);
    return {
      ...s,
      tracks: structuredClone(s.tracks),
      pending: items.length,
      pendingBytes,
      state: state(),
      retryAt: timerKind === "backoff" ? timerDue : null,
    };
  }

  function notify() {
    if (notifyQueued || !listeners.size) return;
    notifyQueued = true;
    queueMicrotask(() => {
      notifyQueued = false;
      const st = stats();
      for (const cb of listeners) cb(st);
    });
  }

  function arm(kind, delay) {
    if (timer !== null) clearTimer(timer);
    timerKind = kind;
    timerDue = now() + delay;
    timer = setTimer(() => {
      timer = null;
      timerKind = null;
      send();
    }, delay);
  }

  function disarm() {
    if (timer !== null) clearTimer(timer);
    timer = null;
    timerKind = null;
  }

  function settle() {
    if (items.length && !halted && !closed) return;
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve(stats());
  }

  function schedule() {
    if (closed || halted || inFlight) return settle();
    if (!items.length) return settle();
    if (timerKind === "backoff") return;
    arm("send", 0);
  }

  /**
   * Queues one chunk: `{track, seq, mime, start, peaks, body, seconds}`. `start` is on the events' clock
   * (ms since the epoch), `peaks` the base64 of the chunk's 20 ms peaks (or null), `body` a Blob.
   */
  function add({ track, seq, mime, start, peaks = null, body, seconds = 0 }) {
    if (closing || closed) throw new Error("audio uploader is closed");
    if (!TRACKS.includes(track)) throw new TypeError(`add: bad track ${track}`);
    const item = { id: chunkId(sessionId, track, seq), sessionId, track, seq, mime, start, peaks, body };
    items.push({ ...item, bytes: sizeOf(body) });
    s.chunks++;
    s.bytes += sizeOf(body);
    const t = (s.tracks[track] ??= { chunks: 0, bytes: 0, seconds: 0 });
    t.chunks++;
    t.bytes += sizeOf(body);
    t.seconds += seconds;
    storeOp(() => store.put(item));
    schedule();
    notify();
  }

  function send() {
    if (inFlight || halted || closed || !items.length) return;
    const it = items[0];
    inFlight = it;
    const id = ++requestId;
    const headers = { "Content-Type": it.mime, "X-Audio-Start": String(it.start) };
    if (it.peaks) headers["X-Audio-Peaks"] = it.peaks;
    const url = `/api/sessions/${encodeURIComponent(sessionId)}/audio/${it.track}/${it.seq}`;
    let p;
    try {
      p = Promise.resolve(doFetch(url, { method: "PUT", headers, body: it.body, credentials: "same-origin" }));
    } catch (e) {
      p = Promise.reject(e);
    }
    timeoutTimer = setTimer(() => {
      timeoutTimer = null;
      if (id === requestId && inFlight === it) fail(it, { status: 0, code: "timeout", message: "no answer" });
    }, requestTimeoutMs);
    p.then(
      (res) => (id === requestId && inFlight === it ? onResponse(it, res) : undefined),
      (e) => {
        if (id === requestId && inFlight === it) {
          fail(it, { status: 0, code: "network_error", message: String(e?.message ?? e) });
        }
      },
    ).catch((e) => fail(it, { status: 0, code: "client_bug", message: String(e?.message ?? e) }));
    notify();
  }

  function finish(it) {
    if (timeoutTimer !== null) clearTimer(timeoutTimer);
    timeoutTimer = null;
    if (inFlight === it) inFlight = null;
  }

  async function onResponse(it, res) {
    const status = res.status;
    const body = await readJson(res);
    if (inFlight !== it) return; // timed out meanwhile; the retry owns the chunk now
    const err = body?.error ?? {};
    const info = { status, code: err.code ?? `http_${status}`, message: err.message ?? "", param: err.param };
    if (status === 200 || status === 201) {
      finish(it);
      items = items.filter((i) => i !== it);
      s.uploaded++;
      s.uploadedBytes += it.bytes;
      if (body?.stored === false) s.duplicates++;
      s.consecutiveFailures = 0;
      storeOp(() => store.delete(it.id));
      schedule();
      return notify();
    }
    if (status === 429 || status === 503) {
      return fail(it, info, parseRetryAfter(res.headers?.get?.("retry-after"), now()));
    }
    if (status >= 500 || status === 404 || status === 408) return fail(it, info);
    return halt(it, info);
  }

  function fail(it, err, retryAfterMs = null) {
    finish(it);
    s.failures++;
    s.consecutiveFailures++;
    s.lastError = { ...err, at: now() };
    const exp = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (s.consecutiveFailures - 1));
    let delay = exp / 2 + (random() * exp) / 2;
    if (retryAfterMs !== null) delay = Math.max(delay, Math.min(retryAfterMs, RETRY_AFTER_CAP_MS));
    notBefore = retryAfterMs !== null ? now() + delay : 0;
    arm("backoff", delay);
    notify();
  }

  function halt(it, err) {
    finish(it);
    s.failures++;
    s.lastError = { ...err, at: now() };
    halted = true;
    disarm();
    settle();
    notify();
  }

  /** Sends now; resolves when every chunk added so far is acknowledged, or the uploader halts. */
  function flush() {
    const p = new Promise((resolve) => waiters.push(resolve));
    if (timerKind === "backoff" && now() >= notBefore) disarm(); // an explicit flush is a "retry now"
    schedule();
    return p;
  }

  return {
    add,
    stats,
    flush,
    onChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    retry() {
      if (closed) return;
      halted = false;
      s.consecutiveFailures = 0;
      disarm();
      schedule();
      notify();
    },
    /** Resolves once the store has every write asked of it so far (the tests' and the page's unload). */
    persisted: () => storeOps,
    /** Flushes, then stops; `add()` after close throws. Keeps retrying while the server is unreachable. */
    close() {
      if (closed) return Promise.resolve(stats());
      closing = true;
      return flush().then(async () => {
        closed = true;
        disarm();
        if (timeoutTimer !== null) clearTimer(timeoutTimer);
        timeoutTimer = null;
        await storeOps;
        notify();
        return stats();
      });
    },
  };
}

/**
 * Uploads the chunks an earlier page left in `store` (it was reloaded or closed mid-call, or the server was
 * down): one uploader per session, closed once done. Resolves to `[{sessionId, stats}]`. A session whose call
 * is still live in another tab gets the same bytes twice at worst, which the server acknowledges once.
 */
export async function resumeAudio(store, options) {
  if (!store) return [];
  const all = await store.all();
  const bySession = new Map();
  for (const r of all) {
    if (!bySession.has(r.sessionId)) bySession.set(r.sessionId, []);
    bySession.get(r.sessionId).push(r);
  }
  return Promise.all(
    [...bySession].map(async ([sessionId, restored]) => {
      const up = createAudioUploader({ ...options, sessionId, store, restored });
      return { sessionId, stats: await up.close() };
    }),
  );
}
