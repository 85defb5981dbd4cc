// The flight recorder's browser half: numbers every event with the session's next `seq` and ships them to
// `POST /api/sessions/{id}/events` in batches until the server acknowledges them. IO (fetch, clock, timers,
// randomness, storage) is injected, so the tests drive the whole state machine with fakes.
//
// Guarantees and choices:
// * `record()` is O(1) and never awaits: it serialises the element once, queues it and at most arms a timer.
//   Serialising once also makes every resend byte-identical, which is what the server's idempotency check
//   compares — a retry after a lost response is counted as a duplicate, never as a conflict.
// * One request in flight. A batch goes out 250 ms after its oldest event, or at once at 100 events.
// * 200: the store writes a batch all-or-nothing, so `stored + duplicates == batch size` means the whole
//   batch is durable; everything ≤ `acked_seq` is dropped too. Anything else stays queued and is retried.
// * Network error, timeout, 5xx, 404 and 429: exponential backoff with jitter (429/503 honour Retry-After).
//   404 is retried because a restarting server may not see the session yet; the backoff keeps it cold.
// * 413: a batch of several is halved (and grows back after successes); a single event the server still
//   refuses is replaced by a stub `{type, event_id, console_omitted: {...}}` under the same seq, so the seq
//   space stays contiguous. Events over `maxEventBytes` are stubbed at once, at record time.
// * 409 (the seq is already stored with other content: another writer — a second tab, a recorder restarted
//   at the same seq): the events before the conflicting one are sent, then the recorder halts with
//   `lastError.code = "seq_conflict"` and keeps everything buffered. Overwriting or renumbering would
//   corrupt the other writer's record; the page decides (`retry()` after fixing, or export).
// * Any other 4xx is a bug: halt, surface `lastError`, keep the events, no retry loop.
// * With `storage` (use sessionStorage: per tab, so two tabs never resume the same seqs) the pending events
//   and the next seq are saved at most every second and on unload; a recorder created for the same
//   session after a reload resumes them. `flushOnUnload()` sends what fits in one 64 KiB keepalive request.

import { STORAGE_PREFIX, loadQueue, saveQueue, storedSessions } from "./recorder-storage.js";
import { conflictIndex, parseRetryAfter, readJson, refusedEntry, serializeEntry, utf8Length } from "./recorder-wire.js";

const DIRECTIONS = new Set(["client", "server", "system"]);
const RETRY_AFTER_CAP_MS = 5 * 60 * 1000;

export { STORAGE_PREFIX, storedSessions, utf8Length };

export function createRecorder({
  sessionId,
  firstSeq = 1,
  fetch: doFetch,
  now = () => Date.now(),
  setTimer = (fn, ms) => setTimeout(fn, ms),
  clearTimer = (h) => clearTimeout(h),
  random = Math.random,
  batchMs = 250,
  batchMax = 100,
  storage = null,
  sendBeacon = null,
  maxBatchBytes = 1 << 20,
  maxEventBytes = 256 * 1024,
  keepaliveBytes = 65536,
  baseBackoffMs = 500,
  maxBackoffMs = 30000,
  requestTimeoutMs = 20000,
  persistMs = 1000,
  url = `/api/sessions/${encodeURIComponent(sessionId)}/events`,
} = {}) {
  if (!sessionId) throw new TypeError("createRecorder: sessionId is required");
  if (typeof doFetch !== "function") throw new TypeError("createRecorder: fetch is required");
  const key = STORAGE_PREFIX + sessionId;
  const headers = { "content-type": "application/json" };

  let items = []; // {seq, json, bytes, at, inFlight}, ascending seq
  let nextSeq = firstSeq;
  let inFlight = null; // the batch being sent
  let requestId = 0;
  let limit = batchMax;
  let ceiling = batchMax; // half the smallest batch the server refused with 413
  let flushTarget = 0; // events up to this seq go out without waiting for the batch timer
  let waiters = [];
  let listeners = new Set();
  let notifyQueued = false;
  let timer = null,
    timerKind = null,
    timerDue = 0;
  let timeoutTimer = null,
    persistTimer = null;
  let persisted = false;
  let halted = false,
    closing = false,
    closed = false;
  let notBefore = 0; // Retry-After: even an explicit flush waits until then
  const s = {
    recorded: 0,
    restored: 0,
    acked: 0,
    ackedSeq: 0,
    failures: 0,
    consecutiveFailures: 0,
    omitted: 0,
    lastError: null,
    persistError: null,
  };

  const saved = loadQueue(storage, key, sessionId);
  if (saved) {
    // Restored events are overdue: `at` in the past sends them at once.
    items = saved.items.map(([seq, json]) => ({ seq, json, bytes: utf8Length(json), at: -Infinity, inFlight: false }));
    nextSeq = Math.max(firstSeq, saved.nextSeq);
    s.restored = items.length;
    persisted = true;
  }

  function state() {
    if (closed) return "closed";
    if (halted) return "halted";
    if (inFlight) return "sending";
    if (timerKind === "backoff") return "backoff";
    return items.length ? "waiting" : "idle";
  }

  function stats() {
    const retryAt = timerKind === "backoff" ? timerDue : null;
    return { ...s, pending: items.length, inFlight: inFlight ? inFlight.length : 0, state: state(), nextSeq, retryAt };
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
    if (timer !== null) {
      if (timerKind === kind && timerDue <= now() + delay) return;
      clearTimer(timer);
    }
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

  function schedule() {
    if (closed || halted || inFlight) return settle();
    if (!items.length) {
      disarm();
      return settle();
    }
    if (timerKind === "backoff") return;
    const urgent = closing || items.length >= limit || items[0].seq <= flushTarget;
    arm("batch", urgent ? 0 : Math.max(0, items[0].at + batchMs - now()));
  }

  // Resolves flush() promises whose events are all stored (or that can no longer make progress).
  function settle() {
    if (!waiters.length) return;
    const first = items.length ? items[0].seq : Infinity;
    const keep = [];
    for (const w of waiters) {
      if (first > w.upTo || halted || closed) w.resolve(stats());
      else keep.push(w);
    }
    waiters = keep;
  }

  function markDirty() {
    if (!storage || persistTimer !== null) return;
    // A long outage makes the saved list big: save it less often rather than stall the page.
    const every = Math.min(10000, persistMs * Math.max(1, Math.ceil(items.length / 1000)));
    persistTimer = setTimer(persistNow, every);
  }

  function persistNow() {
    if (persistTimer !== null) clearTimer(persistTimer);
    persistTimer = null;
    if (!storage) return;
    try {
      if (items.length || persisted) saveQueue(storage, key, sessionId, nextSeq, items);
      persisted = items.length > 0;
      s.persistError = null;
    } catch (e) {
      s.persistError = String(e?.message ?? e); // quota: the in-memory queue still holds everything
    }
  }

  function drop(pred) {
    const before = items.length;
    items = items.filter((i) => !pred(i));
    const n = before - items.length;
    if (n) {
      s.acked += n;
      // All stored: forget the saved copy now, so a reload right after cannot resend anything.
      if (!items.length) persistNow();
      else markDirty();
    }
    return n;
  }

  function record(direction, event, ts) {
    if (closing || closed) throw new Error("recorder is closed");
    if (!DIRECTIONS.has(direction)) throw new TypeError(`record: bad direction ${direction}`);
    const seq = nextSeq++;
    const at = now();
    const t = Number.isFinite(ts) ? ts : at;
    const { element, bytes, json, omitted } = serializeEntry(seq, t, direction, event, maxEventBytes);
    if (omitted) s.omitted++;
    items.push({ seq, json: element, bytes, at, inFlight: false, event: json });
    s.recorded++;
    markDirty();
    schedule();
    notify();
    return seq;
  }

  function send() {
    if (inFlight || halted || closed || !items.length) return;
    const batch = [];
    let bytes = 12;
    for (const it of items) {
      if (batch.length >= limit) break;
      if (batch.length && bytes + it.bytes + 1 > maxBatchBytes) break;
      batch.push(it);
      bytes += it.bytes + 1;
    }
    for (const it of batch) it.inFlight = true;
    inFlight = batch;
    const id = ++requestId;
    const body = `{"events":[${batch.map((i) => i.json).join(",")}]}`;
    let p;
    try {
      p = Promise.resolve(doFetch(url, { method: "POST", headers, body, credentials: "same-origin" }));
    } catch (e) {
      p = Promise.reject(e);
    }
    timeoutTimer = setTimer(() => {
      timeoutTimer = null;
      if (id === requestId && inFlight === batch) fail(batch, { status: 0, code: "timeout", message: "no answer" });
    }, requestTimeoutMs);
    p.then(
      (res) => (id === requestId && inFlight === batch ? onResponse(batch, res) : undefined),
      (e) => {
        if (id === requestId && inFlight === batch) {
          fail(batch, { status: 0, code: "network_error", message: String(e?.message ?? e) });
        }
      },
    ).catch((e) => fail(batch, { status: 0, code: "client_bug", message: String(e?.message ?? e) }));
    notify();
  }

  function finish(batch) {
    if (timeoutTimer !== null) clearTimer(timeoutTimer);
    timeoutTimer = null;
    for (const it of batch) it.inFlight = false;
    if (inFlight === batch) inFlight = null;
  }

  async function onResponse(batch, res) {
    const status = res.status;
    const body = await readJson(res);
    if (inFlight !== batch) return; // timed out meanwhile; the retry owns the events now
    const err = body?.error ?? {};
    const info = { status, code: err.code ?? `http_${status}`, message: err.message ?? "", param: err.param };
    if (status >= 200 && status < 300) {
      const acked = Number(body?.acked_seq);
      if (!Number.isInteger(acked)) return fail(batch, { ...info, code: "bad_answer", message: "no acked_seq" });
      finish(batch);
      s.ackedSeq = Math.max(s.ackedSeq, acked);
      const whole = Number(body.stored) + Number(body.duplicates) === batch.length;
      const done = new Set(whole ? batch : []);
      // A seq the server refused with 409 is "acked" by the other writer's event: ours must not vanish.
      drop((i) => done.has(i) || (i.seq <= s.ackedSeq && !i.conflict));
      if (!whole && batch.some((i) => i.seq > s.ackedSeq)) {
        // Not a documented answer; retry the rest, but slowly.
        return fail([], { status, code: "partial_ack", message: "the server did not store the whole batch" });
      }
      s.consecutiveFailures = 0;
      limit = Math.min(ceiling, limit * 2);
      schedule();
      return notify();
    }
    if (status === 413) {
      finish(batch);
      s.failures++;
      s.lastError = { ...info, at: now() };
      if (batch.length > 1) {
        // Halve, and stay there: growing back would only find the same limit with more refusals.
        limit = ceiling = Math.min(ceiling, Math.ceil(batch.length / 2));
      } else if (batch[0].stubbed) {
        return halt([], info); // the server refuses even the stub: a bug, not something to loop on
      } else {
        const it = batch[0];
        it.stubbed = true;
        Object.assign(it, refusedEntry(it));
        s.omitted++;
        markDirty();
      }
      schedule();
      return notify();
    }
    if (status === 409) {
      const index = conflictIndex(err.param);
      if (batch[index]) batch[index].conflict = true;
      if (index > 0 && index < batch.length) {
        // The events before the conflict are fine: send them, then stop at the conflicting seq.
        finish(batch);
        limit = index;
        s.lastError = { ...info, at: now() };
        schedule();
        return notify();
      }
      return halt(batch, info);
    }
    if (status === 429 || status === 503) {
      return fail(batch, info, parseRetryAfter(res.headers?.get?.("retry-after"), now()));
    }
    if (status >= 500 || status === 404 || status === 408) return fail(batch, info);
    return halt(batch, info);
  }

  function fail(batch, err, retryAfterMs = null) {
    finish(batch);
    s.failures++;
    s.consecutiveFailures++;
    s.lastError = { ...err, at: now() };
    const exp = Math.min(maxBackoffMs, baseBackoffMs * 2 ** (s.consecutiveFailures - 1));
    let delay = exp / 2 + (random() * exp) / 2; // "equal jitter": never 0, never in lockstep with other tabs
    if (retryAfterMs !== null) delay = Math.max(delay, Math.min(retryAfterMs, RETRY_AFTER_CAP_MS));
    notBefore = retryAfterMs !== null ? now() + delay : 0;
    arm("backoff", delay);
    settle();
    notify();
  }

  function halt(batch, err) {
    finish(batch);
    s.failures++;
    s.lastError = { ...err, at: now() };
    halted = true;
    disarm();
    persistNow();
    settle();
    notify();
  }

  function flush() {
    flushTarget = nextSeq - 1;
    const p = new Promise((resolve) => waiters.push({ upTo: flushTarget, resolve }));
    if (timerKind === "backoff" && now() >= notBefore) disarm(); // an explicit flush is a "retry now"
    schedule();
    return p;
  }

  function flushOnUnload() {
    persistNow();
    const picked = [];
    let bytes = 12;
    for (const it of items) {
      if (bytes + it.bytes + 1 > keepaliveBytes) continue; // too big for the keepalive budget: stays saved
      picked.push(it);
      bytes += it.bytes + 1;
    }
    if (!picked.length) return { sent: 0, remaining: items.length };
    const body = `{"events":[${picked.map((i) => i.json).join(",")}]}`;
    const init = { method: "POST", headers, body, keepalive: true, credentials: "same-origin" };
    let p;
    try {
      p = Promise.resolve(doFetch(url, init));
    } catch (e) {
      if (!sendBeacon) return { sent: 0, remaining: items.length };
      sendBeacon(url, body);
      return { sent: picked.length, remaining: items.length - picked.length };
    }
    // If the page survives (bfcache), use the answer; otherwise the saved copy is resent next time.
    p.then(async (res) => {
      if (res.status < 200 || res.status >= 300) return;
      const a = Number((await readJson(res))?.acked_seq);
      if (Number.isInteger(a)) {
        s.ackedSeq = Math.max(s.ackedSeq, a);
        drop((i) => i.seq <= s.ackedSeq && !i.conflict);
        settle();
        notify();
      }
    }).catch(() => {});
    return { sent: picked.length, remaining: items.length - picked.length };
  }

  return {
    record,
    stats,
    onChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    flush,
    retry() {
      if (closed) return;
      halted = false;
      s.consecutiveFailures = 0;
      disarm();
      flushTarget = nextSeq - 1;
      schedule();
      notify();
    },
    flushOnUnload,
    close() {
      if (closed) return Promise.resolve(stats());
      closing = true;
      return flush().then(() => {
        closed = true;
        disarm();
        if (timeoutTimer !== null) clearTimer(timeoutTimer);
        timeoutTimer = null;
        persistNow();
        notify();
        return stats();
      });
    },
  };
}
