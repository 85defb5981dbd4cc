// Fakes for the recorder's tests (recorder.test.js, recorder-lifecycle.test.js): a clock with timers, a
// store-like server behind a fetch, a Storage, and a recorder wired to them.

import { createRecorder } from "../lib/recorder.js";

export function fakeClock(start = 1_764_000_000_000) {
  let t = start;
  let timers = [];
  let id = 0;
  const clock = {
    now: () => t,
    setTimer: (fn, ms) => {
      timers.push({ id: ++id, at: t + Math.max(0, ms), fn });
      return id;
    },
    clearTimer: (h) => {
      timers = timers.filter((x) => x.id !== h);
    },
    pending: () => timers.length,
    // Runs due timers in time order, letting promise callbacks (fetch answers) run in between.
    async advance(ms) {
      const end = t + ms;
      await settle();
      for (;;) {
        timers.sort((a, b) => a.at - b.at || a.id - b.id);
        const next = timers[0];
        if (!next || next.at > end) break;
        timers.shift();
        t = next.at;
        next.fn();
        await settle();
      }
      t = end;
      await settle();
    },
  };
  return clock;
}

export const settle = () => new Promise((r) => setImmediate(r));

/** The ingest endpoint's contract: idempotent by seq, 409 on other content, contiguous acked_seq. */
export function fakeServer() {
  const stored = new Map([[1, '{"opening":true}']]);
  const srv = {
    stored,
    requests: [],
    mode: "up", // "up" | "down" | "500" | "lose" (store, then drop the answer) | "hang"
    maxEvents: Infinity, // 413 too_many_events above this
    maxEventBytes: Infinity, // 413 event_too_large for a bigger event
    status: null, // force a status (e.g. 400, 429) once
    retryAfter: null,
    ackedSeq() {
      let n = 0;
      while (stored.has(n + 1)) n++;
      return n;
    },
    fetch: async (url, init) => {
      const body = JSON.parse(init.body);
      srv.requests.push({ url, init, events: body.events, keepalive: !!init.keepalive });
      if (srv.mode === "down") throw new TypeError("Failed to fetch");
      if (srv.mode === "hang") return new Promise(() => {});
      if (srv.mode === "500") return answer(500, { error: { code: "internal", message: "" } });
      if (srv.status) {
        const s = srv.status;
        srv.status = null;
        return answer(s, { error: { code: `forced_${s}`, message: "forced" } }, srv.retryAfter);
      }
      if (body.events.length > srv.maxEvents) {
        return answer(413, { error: { code: "too_many_events", message: "too many", param: "events" } });
      }
      const i = body.events.findIndex((e) => JSON.stringify(e.event).length > srv.maxEventBytes);
      if (i >= 0) return answer(413, { error: { code: "event_too_large", param: `events[${i}].event` } });
      let dup = 0;
      for (const [index, e] of body.events.entries()) {
        const content = JSON.stringify([e.ts, e.direction, e.event]);
        if (stored.has(e.seq) && stored.get(e.seq) !== content) {
          return answer(409, { error: { code: "seq_conflict", param: `events[${index}].seq`, message: "conflict" } });
        }
      }
      for (const e of body.events) {
        const content = JSON.stringify([e.ts, e.direction, e.event]);
        if (stored.has(e.seq)) dup++;
        else stored.set(e.seq, content);
      }
      if (srv.mode === "lose") throw new TypeError("connection reset");
      return answer(200, { acked_seq: srv.ackedSeq(), stored: body.events.length - dup, duplicates: dup });
    },
  };
  return srv;
}

export function answer(status, body, retryAfter = null) {
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: { get: (h) => (h.toLowerCase() === "retry-after" ? retryAfter : null) },
    json: async () => body,
  };
}

export function fakeStorage() {
  const m = new Map();
  return {
    get length() {
      return m.size;
    },
    key: (i) => [...m.keys()][i] ?? null,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
  };
}

/** A recorder of session s1 whose next seq is 2, on a fake clock and server (pass `clock`/`srv` to reuse ones). */
export function setup({ clock = fakeClock(), srv = fakeServer(), ...opts } = {}) {
  const rec = createRecorder({
    sessionId: "s1",
    firstSeq: 2,
    fetch: srv.fetch,
    now: clock.now,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
    random: () => 0.5,
    ...opts,
  });
  return { clock, srv, rec };
}

export const ev = (i) => ({ type: "response.output_text.delta", event_id: `e${i}`, delta: `x${i}` });
export const storedSeqs = (srv) => [...srv.stored.keys()].sort((a, b) => a - b);
export const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
