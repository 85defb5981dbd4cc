import { test } from "node:test";
import assert from "node:assert/strict";
import { createRecorder, storedSessions, utf8Length, STORAGE_PREFIX } from "../lib/recorder.js";

// ---- fakes: a clock with timers, a store-like server behind a fetch, a Storage ----

function fakeClock(start = 1_764_000_000_000) {
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

const settle = () => new Promise((r) => setImmediate(r));

/** The ingest endpoint's contract: idempotent by seq, 409 on other content, contiguous acked_seq. */
function fakeServer() {
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

function answer(status, body, retryAfter = null) {
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: { get: (h) => (h.toLowerCase() === "retry-after" ? retryAfter : null) },
    json: async () => body,
  };
}

function fakeStorage() {
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

function setup(opts = {}) {
  const clock = fakeClock();
  const srv = fakeServer();
  const rec = createRecorder({ sessionId: "s1", firstSeq: 2, fetch: srv.fetch, now: clock.now,
    setTimer: clock.setTimer, clearTimer: clock.clearTimer, random: () => 0.5, ...opts });
  return { clock, srv, rec };
}

const ev = (i) => ({ type: "response.output_text.delta", event_id: `e${i}`, delta: `x${i}` });
const storedSeqs = (srv) => [...srv.stored.keys()].sort((a, b) => a - b);
const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

// ---- tests ----

test("events are numbered from firstSeq and sent as one batch after 250 ms", async () => {
  const { clock, srv, rec } = setup();
  assert.deepEqual([rec.record("client", ev(1)), rec.record("server", ev(2), 123.5), rec.record("system", ev(3))], [2, 3, 4]);
  await clock.advance(249);
  assert.equal(srv.requests.length, 0);
  await clock.advance(1);
  assert.equal(srv.requests.length, 1);
  const r = srv.requests[0];
  assert.equal(r.url, "/api/sessions/s1/events");
  assert.equal(r.init.method, "POST");
  assert.deepEqual(r.events[1], { seq: 3, ts: 123.5, direction: "server", event: ev(2) });
  assert.equal(r.events[0].ts, clock.now() - 250);
  const st = rec.stats();
  assert.deepEqual([st.recorded, st.acked, st.ackedSeq, st.pending, st.state, st.failures], [3, 3, 4, 0, "idle", 0]);
  assert.deepEqual(storedSeqs(srv), [1, 2, 3, 4]);
});

test("100 events go at once; one request in flight; the rest follows", async () => {
  const { clock, srv, rec } = setup();
  srv.mode = "hang";
  for (let i = 0; i < 150; i++) rec.record("server", ev(i));
  await clock.advance(0);
  assert.equal(srv.requests.length, 1);
  assert.equal(srv.requests[0].events.length, 100);
  await clock.advance(1000);
  assert.equal(srv.requests.length, 1, "nothing else while a request is in flight");
  assert.equal(rec.stats().state, "sending");
  srv.mode = "up";
  await clock.advance(20_000); // the hung request times out and everything is retried
  assert.deepEqual(storedSeqs(srv), range(1, 151));
  assert.equal(rec.stats().pending, 0);
});

test("an event mutated after record() is sent as it was recorded", async () => {
  const { clock, srv, rec } = setup();
  const e = { type: "x", n: 1 };
  rec.record("client", e);
  e.n = 2;
  await clock.advance(250);
  assert.equal(srv.requests[0].events[0].event.n, 1);
});

test("a raw JSON string is sent as is", async () => {
  const { clock, srv, rec } = setup();
  rec.record("server", '{"type":"session.created","event_id":"e1"}');
  await clock.advance(250);
  assert.deepEqual(srv.requests[0].events[0].event, { type: "session.created", event_id: "e1" });
});

test("network failures back off exponentially with jitter, then succeed", async () => {
  const { clock, srv, rec } = setup({ random: () => 1 });
  srv.mode = "down";
  rec.record("client", ev(1));
  await clock.advance(250);
  assert.equal(srv.requests.length, 1);
  assert.equal(rec.stats().state, "backoff");
  assert.equal(rec.stats().lastError.code, "network_error");
  const times = [];
  for (let i = 0; i < 6; i++) {
    const n = srv.requests.length;
    let waited = 0;
    while (srv.requests.length === n) {
      await clock.advance(50);
      waited += 50;
    }
    times.push(waited);
  }
  assert.deepEqual(times, [500, 1000, 2000, 4000, 8000, 16000]); // random() = 1 → the full exponential delay
  assert.equal(rec.stats().consecutiveFailures, 7);
  srv.mode = "up";
  await clock.advance(30_000);
  assert.equal(rec.stats().pending, 0);
  assert.equal(rec.stats().consecutiveFailures, 0);
  assert.deepEqual(storedSeqs(srv), [1, 2]);
});

test("backoff is capped and jittered", async () => {
  const { clock, srv, rec } = setup({ random: () => 0, maxBackoffMs: 4000 });
  srv.mode = "500";
  rec.record("client", ev(1));
  await clock.advance(250);
  for (let i = 0; i < 10; i++) await clock.advance(2000);
  // random() = 0 → half the delay: 250, 500, 1000, 2000, 2000, … → about one request per 2 s at the cap.
  assert.ok(srv.requests.length >= 10 && srv.requests.length <= 14, `${srv.requests.length} requests`);
  assert.equal(rec.stats().lastError.status, 500);
});

test("server restart: failures, a lost answer, then success — nothing lost, nothing stored twice", async () => {
  const { clock, srv, rec } = setup();
  let n = 0;
  const record = () => rec.record(n % 2 ? "server" : "client", ev(n++));
  for (let i = 0; i < 30; i++) record();
  await clock.advance(250);
  srv.mode = "lose"; // stores the batch but the answer never arrives
  for (let i = 0; i < 30; i++) record();
  await clock.advance(250);
  srv.mode = "down";
  for (let k = 0; k < 20; k++) {
    for (let i = 0; i < 20; i++) record();
    await clock.advance(500);
  }
  srv.mode = "500";
  await clock.advance(5000);
  srv.mode = "up";
  for (let i = 0; i < 10; i++) record();
  await clock.advance(60_000);
  const st = rec.stats();
  assert.equal(st.pending, 0);
  assert.equal(st.recorded, n);
  assert.deepEqual(storedSeqs(srv), range(1, n + 1), "every seq stored, contiguous");
  assert.equal(st.ackedSeq, n + 1);
  assert.equal(st.acked, n);
  // The resent batch was recognised as duplicates, not conflicts.
  assert.ok(srv.requests.every((r) => r.events.length <= 100));
});

test("acked_seq drops everything at or below it", async () => {
  const { clock, srv, rec } = setup();
  for (let i = 0; i < 5; i++) rec.record("client", ev(i));
  // Another path (a keepalive request from an earlier page) already stored them all.
  srv.stored.set(2, "x"); // pretend: different content would conflict, so store the real thing instead
  srv.stored.delete(2);
  await clock.advance(250);
  assert.equal(rec.stats().ackedSeq, 6);
  assert.equal(rec.stats().pending, 0);
});

test("413 with many events: the batch is halved until it fits", async () => {
  const { clock, srv, rec } = setup();
  srv.maxEvents = 10;
  for (let i = 0; i < 100; i++) rec.record("server", ev(i));
  await clock.advance(5000);
  assert.deepEqual(storedSeqs(srv), range(1, 101));
  const sizes = srv.requests.map((r) => r.events.length);
  assert.deepEqual(sizes.slice(0, 6), [100, 50, 25, 13, 7, 7]);
  assert.equal(sizes.filter((s) => s > 10).length, 4, "no hot loop of oversized batches");
});

test("413 for a single event: it is replaced by a stub under the same seq", async () => {
  const { clock, srv, rec } = setup();
  srv.maxEventBytes = 200;
  rec.record("client", ev(0));
  rec.record("client", { type: "conversation.item.create", event_id: "big", item: { text: "y".repeat(500) } });
  rec.record("client", ev(2));
  await clock.advance(5000);
  assert.deepEqual(storedSeqs(srv), [1, 2, 3, 4]);
  const stub = JSON.parse(srv.stored.get(3))[2];
  assert.equal(stub.type, "conversation.item.create");
  assert.equal(stub.event_id, "big");
  assert.equal(stub.console_omitted.reason, "refused_413");
  assert.equal(rec.stats().omitted, 1);
});

test("an event over maxEventBytes is stubbed at record time", async () => {
  const { clock, srv, rec } = setup({ maxEventBytes: 1000 });
  rec.record("client", JSON.stringify({ type: "input_audio_buffer.append", audio: "A".repeat(5000) }));
  await clock.advance(250);
  const e = srv.requests[0].events[0].event;
  assert.deepEqual(e, { type: "input_audio_buffer.append", console_omitted: { reason: "too_large", bytes: 5047 } });
});

test("409: the events before the conflict are sent, then the recorder halts without losing the rest", async () => {
  const { clock, srv, rec } = setup();
  srv.stored.set(5, "another writer");
  for (let i = 0; i < 6; i++) rec.record("client", ev(i)); // seqs 2..7
  await clock.advance(250);
  await clock.advance(100);
  assert.deepEqual(storedSeqs(srv), [1, 2, 3, 4, 5]);
  assert.equal(srv.stored.get(5), "another writer");
  const st = rec.stats();
  assert.equal(st.state, "halted");
  assert.equal(st.lastError.code, "seq_conflict");
  assert.equal(st.pending, 3);
  const n = srv.requests.length;
  rec.record("client", ev(9));
  await clock.advance(600_000);
  assert.equal(srv.requests.length, n, "halted: no retry loop");
  // Once the conflict is resolved (here: the other writer's event removed), retry() sends everything.
  srv.stored.delete(5);
  rec.retry();
  await clock.advance(100);
  assert.deepEqual(storedSeqs(srv), range(1, 8));
});

test("another 4xx is a bug: surfaced, no retry loop", async () => {
  const { clock, srv, rec } = setup();
  srv.status = 400;
  rec.record("client", ev(0));
  await clock.advance(600_000);
  assert.equal(srv.requests.length, 1);
  assert.equal(rec.stats().state, "halted");
  assert.deepEqual([rec.stats().lastError.status, rec.stats().lastError.code], [400, "forced_400"]);
  assert.equal(rec.stats().pending, 1);
  const done = await rec.flush();
  assert.equal(done.state, "halted", "flush() does not hang on a halted recorder");
});

test("404 and 429 are retried; Retry-After is honoured", async () => {
  const { clock, srv, rec } = setup();
  srv.status = 429;
  srv.retryAfter = "7";
  rec.record("client", ev(0));
  await clock.advance(250);
  assert.equal(rec.stats().lastError.status, 429);
  await clock.advance(6900);
  assert.equal(srv.requests.length, 1);
  rec.flush(); // a flush does not jump the server's Retry-After
  await clock.advance(50);
  assert.equal(srv.requests.length, 1);
  await clock.advance(100);
  assert.equal(srv.requests.length, 2);
  assert.equal(rec.stats().pending, 0);
  srv.status = 404;
  rec.record("client", ev(1));
  await clock.advance(250);
  assert.equal(rec.stats().state, "backoff");
  await clock.advance(1000);
  assert.equal(rec.stats().pending, 0);
});

test("flush() resolves once everything recorded so far is stored; close() stops recording", async () => {
  const { clock, srv, rec } = setup();
  rec.record("client", ev(0));
  let flushed = null;
  rec.flush().then((s) => (flushed = s));
  await clock.advance(0); // no 250 ms wait
  assert.equal(flushed.pending, 0);
  assert.equal(srv.requests.length, 1);
  rec.record("client", ev(1));
  let closed = null;
  rec.close().then((s) => (closed = s));
  await clock.advance(0);
  assert.equal(closed.state, "closed");
  assert.deepEqual(storedSeqs(srv), [1, 2, 3]);
  assert.throws(() => rec.record("client", ev(2)), /closed/);
  assert.equal(clock.pending(), 0, "no timers left behind");
});

test("onChange is told, coalesced", async () => {
  const { clock, rec } = setup();
  const seen = [];
  const off = rec.onChange((s) => seen.push(s.pending));
  rec.record("client", ev(0));
  rec.record("client", ev(1));
  await clock.advance(0);
  assert.deepEqual(seen, [2]);
  await clock.advance(250);
  assert.equal(seen.at(-1), 0);
  off();
});

test("flushOnUnload: one keepalive request of at most 64 KiB, oldest first, the rest saved", async () => {
  const storage = fakeStorage();
  const { clock, srv, rec } = setup({ storage });
  srv.mode = "hang";
  const big = "z".repeat(1000);
  for (let i = 0; i < 100; i++) rec.record("server", { type: "response.output_text.delta", delta: big, i });
  await clock.advance(0); // a normal request is in flight (and will die with the page)
  const r = rec.flushOnUnload();
  const ka = srv.requests.at(-1);
  assert.equal(ka.keepalive, true);
  assert.ok(utf8Length(ka.init.body) <= 65536);
  assert.equal(ka.events[0].seq, 2, "includes the events of the request in flight");
  assert.equal(r.sent, ka.events.length);
  assert.equal(r.sent + r.remaining, 100);
  assert.ok(r.sent >= 55 && r.remaining > 0, `${r.sent} sent`); // ~1.1 KB each
  const saved = JSON.parse(storage.getItem(STORAGE_PREFIX + "s1"));
  assert.equal(saved.items.length, 100);
  assert.equal(saved.nextSeq, 102);
});

test("a reload resumes from storage: nothing lost, nothing duplicated, storage emptied", async () => {
  const storage = fakeStorage();
  const a = setup({ storage });
  a.srv.mode = "down";
  for (let i = 0; i < 10; i++) a.rec.record("client", ev(i)); // seqs 2..11
  await a.clock.advance(2000);
  a.rec.flushOnUnload(); // fails too: the server is down
  assert.deepEqual(storedSessions(storage), [{ sessionId: "s1", nextSeq: 12, pending: 10 }]);

  // New page, same tab: the server is back; the same session's store already has seq 1.
  const clock = fakeClock(a.clock.now() + 5000);
  const srv = a.srv;
  srv.mode = "up";
  const rec = createRecorder({ sessionId: "s1", firstSeq: 2, fetch: srv.fetch, now: clock.now,
    setTimer: clock.setTimer, clearTimer: clock.clearTimer, random: () => 0.5, storage });
  assert.equal(rec.stats().restored, 10);
  assert.equal(rec.record("system", { type: "console.reloaded" }), 12);
  await clock.advance(1500);
  assert.deepEqual(storedSeqs(srv), range(1, 12));
  assert.equal(rec.stats().pending, 0);
  assert.equal(storage.getItem(STORAGE_PREFIX + "s1"), null);
  assert.deepEqual(storedSessions(storage), []);
});

test("record() is cheap: 100k events recorded without awaiting", () => {
  const { rec } = setup();
  const t = performance.now();
  for (let i = 0; i < 100_000; i++) rec.record("server", ev(i));
  const ms = performance.now() - t;
  console.log(`# record(): 100k events in ${ms.toFixed(1)} ms`);
  assert.equal(rec.stats().pending, 100_000);
});

test("utf8Length counts bytes", () => {
  assert.equal(utf8Length("abc"), 3);
  assert.equal(utf8Length("°"), 2);
  assert.equal(utf8Length("€"), 3);
  assert.equal(utf8Length("😀"), 4);
});
