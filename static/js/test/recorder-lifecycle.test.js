// The recorder (lib/recorder.js): flush, close, onChange, unload and reload. `node --test static/js/test/`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { storedSessions, utf8Length, STORAGE_PREFIX } from "../lib/recorder.js";
import { fakeClock, fakeStorage, setup, ev, storedSeqs, range } from "./recorder-fakes.js";

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
  a.srv.mode = "up";
  const { clock, srv, rec } = setup({ clock: fakeClock(a.clock.now() + 5000), srv: a.srv, storage });
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
