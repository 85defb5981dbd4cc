// The drop-in recorder (lib/page-recorder.js, served as /recorder.js): a page's own data channel recorded into
// a session of its own, the call id reported, the end marked. `node --test static/js/test/`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createPageRecorder, isEventText } from "../lib/page-recorder.js";
import { answer, fakeClock, fakeServer, storedSeqs } from "./recorder-fakes.js";

const BASE = "http://127.0.0.1:3000";

/** A data channel as the page holds it: `send` throws until it is open. */
class FakeChannel extends EventTarget {
  readyState = "connecting";
  sent = [];
  send(data) {
    if (this.readyState !== "open") throw new Error("InvalidStateError: not open");
    this.sent.push(data);
  }
  open() {
    this.readyState = "open";
    this.dispatchEvent(new Event("open"));
  }
  receive(data) {
    this.dispatchEvent(Object.assign(new Event("message"), { data }));
  }
  close() {
    this.readyState = "closed";
    this.dispatchEvent(new Event("close"));
  }
}

/** The console's API as the recorder uses it: sessions, their patches, and the ingest of fakeServer. */
function fakeConsole() {
  const srv = fakeServer();
  srv.stored.clear(); // a session made by POST /api/sessions has no opening event of the server's
  const api = { srv, created: [], patches: [], createStatus: [], calls: [] };
  api.fetch = async (url, init) => {
    api.calls.push({ url, init });
    if (url === `${BASE}/api/sessions` && init.method === "POST") {
      const forced = api.createStatus.shift();
      if (forced === 0) throw new TypeError("Failed to fetch");
      if (forced) return answer(forced, { error: { code: `forced_${forced}`, message: "forced" } });
      api.created.push(JSON.parse(init.body));
      return answer(201, { id: "s1", acked_seq: 0 });
    }
    if (url === `${BASE}/api/sessions/s1` && init.method === "PATCH") {
      api.patches.push(JSON.parse(init.body));
      return answer(200, { id: "s1" });
    }
    if (url === `${BASE}/api/sessions/s1/events`) return srv.fetch(url, init);
    return answer(404, { error: { code: "unknown_url" } });
  };
  return api;
}

/** What `promise` resolves to, the fake clock run on until it does. */
async function settled(clock, promise) {
  let done = null;
  promise.then((value) => (done = { value }));
  for (let i = 0; i < 100 && !done; i++) await clock.advance(100);
  assert.ok(done, "settles");
  return done.value;
}

function setup({ api = fakeConsole(), ...opts } = {}) {
  const clock = fakeClock();
  const dc = new FakeChannel();
  const page = new EventTarget();
  const rec = createPageRecorder({
    dc,
    page,
    base: BASE,
    label: "my page",
    origin: "http://localhost:5173",
    fetch: api.fetch,
    now: clock.now,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
    random: () => 0.5,
    ...opts,
  });
  return { clock, api, dc, page, rec };
}

/** Every event the console stored, in seq order, as `[direction, event]`. */
function stored(api) {
  return storedSeqs(api.srv).map((seq) => {
    const [, direction, event] = JSON.parse(api.srv.stored.get(seq));
    return [direction, event];
  });
}

test("both directions of the channel are recorded into a new `page` session, in order, from seq 1", async () => {
  const { clock, api, dc, rec } = setup();
  assert.equal(rec.stats().state, "starting");
  dc.open();
  const update = '{"type":"session.update","session":{"type":"realtime"}}';
  dc.send(update);
  dc.receive('{"type":"session.created","event_id":"e1"}');
  assert.equal(await rec.ready, "s1");
  dc.receive('{"type":"session.updated","event_id":"e2"}');
  await clock.advance(250);
  assert.deepEqual(api.created, [{ label: "my page", flow: "page" }]);
  assert.deepEqual(dc.sent, [update], "the channel still sends");
  assert.deepEqual(
    stored(api).map(([direction, event]) => [direction, event.type, event.state ?? null]),
    [
      ["system", "console.page", null],
      ["system", "console.state", "connecting"],
      ["system", "console.state", "open"],
      ["client", "session.update", null],
      ["server", "session.created", null],
      ["server", "session.updated", null],
    ],
  );
  assert.equal(stored(api)[0][1].origin, "http://localhost:5173");
  const body = api.srv.requests.map((r) => r.init.body).join("");
  assert.ok(body.includes(`"direction":"client","event":${update}}`), "the text as sent, byte for byte");
  const st = rec.stats();
  assert.deepEqual([st.sessionId, st.recorded, st.ackedSeq, st.pending], ["s1", 6, 6, 0]);
});

test("with the gateway call's `sessionId`, it records into that session from seq 2 and makes none", async () => {
  const { clock, api, dc, rec } = setup({ sessionId: "s1" });
  assert.equal(await rec.ready, "s1");
  dc.open();
  dc.receive('{"type":"session.created","event_id":"e1"}');
  await clock.advance(250);
  assert.deepEqual(api.created, [], "no session of its own");
  assert.deepEqual(storedSeqs(api.srv), [2, 3, 4, 5], "seq 1 is the gateway's opening event");
  assert.deepEqual(
    stored(api).map(([, event]) => event.type),
    ["console.page", "console.state", "console.state", "session.created"],
  );
});

test("the call id, from an id or the answer's Location, is reported once", async () => {
  const { clock, api, rec } = setup();
  rec.setCallId("http://127.0.0.1:3000/v1/realtime/calls/rtc_abc123");
  rec.setCallId("rtc_other");
  const st = await settled(clock, rec.flush());
  assert.deepEqual(api.patches, [{ call_id: "rtc_abc123" }]);
  assert.equal(st.callId, "rtc_abc123");

  const given = setup({ callId: "rtc_given" });
  await settled(given.clock, given.rec.flush());
  assert.deepEqual(given.api.patches, [{ call_id: "rtc_given" }]);
});

test("what is not an event the store takes is kept as a system event with its text", async () => {
  const { clock, api, dc, rec } = setup();
  dc.open();
  dc.receive("not json");
  dc.receive("[1,2]");
  dc.receive(JSON.stringify({ type: "x".repeat(129) }));
  dc.receive(new Uint8Array(3).buffer);
  dc.send("{oops");
  await rec.ready;
  await clock.advance(250);
  const kept = stored(api)
    .slice(3)
    .map(([direction, event]) => [direction, event.type, event.direction, event.text ?? event.bytes]);
  assert.deepEqual(kept, [
    ["system", "console.unparsable_message", "server", "not json"],
    ["system", "console.unparsable_message", "server", "[1,2]"],
    ["system", "console.unparsable_message", "server", JSON.stringify({ type: "x".repeat(129) })],
    ["system", "console.binary_message", "server", 3],
    ["system", "console.unparsable_message", "client", "{oops"],
  ]);
  assert.equal(isEventText('{"type":"response.done"}'), true);
});

test("a send the channel refuses is not recorded, and its error reaches the page", async () => {
  const { clock, api, dc, rec } = setup();
  assert.throws(() => dc.send('{"type":"response.create"}'), /not open/);
  await rec.ready;
  await clock.advance(250);
  assert.deepEqual(
    stored(api).map(([direction]) => direction),
    ["system", "system"],
  );
});

test("the channel's close ends the recording: stored, marked ended, the channel as it was", async () => {
  const { clock, api, dc, page, rec } = setup();
  dc.open();
  dc.send('{"type":"response.create"}');
  assert.ok(Object.hasOwn(dc, "send"));
  dc.close();
  const st = await settled(clock, rec.stop());
  assert.equal(st.state, "stopped");
  assert.deepEqual(api.patches, [{ ended: true }]);
  assert.equal(stored(api).at(-1)[1].state, "closed");
  assert.ok(!Object.hasOwn(dc, "send"), "the prototype's send again");
  dc.readyState = "open";
  dc.send('{"type":"after"}');
  dc.receive('{"type":"after"}');
  page.dispatchEvent(new Event("pagehide"));
  await clock.advance(1000);
  assert.equal(rec.stats().recorded, 5, "nothing after the end");
});

test("creating the session is retried after a network error or a 503; a refusal halts", async () => {
  const failing = fakeConsole();
  failing.createStatus.push(0, 503);
  const { clock, api, dc, rec } = setup({ api: failing });
  dc.open();
  dc.send('{"type":"response.create"}');
  await clock.advance(0);
  assert.equal(rec.stats().lastError.code, "network_error");
  assert.match(rec.stats().lastError.message, /--allow-origin/);
  await clock.advance(2000);
  assert.equal(await rec.ready, "s1");
  await clock.advance(250);
  assert.equal(stored(api).length, 4, "what waited is stored");

  const refusing = fakeConsole();
  refusing.createStatus.push(403);
  const refused = setup({ api: refusing });
  assert.equal(await refused.rec.ready, null);
  const st = refused.rec.stats();
  assert.deepEqual([st.state, st.lastError.code, st.lastError.status], ["halted", "forced_403", 403]);
  assert.ok(!Object.hasOwn(refused.dc, "send"), "unhooked");
  assert.equal((await settled(refused.clock, refused.rec.stop())).state, "stopped");
  assert.deepEqual(refused.api.patches, []);
});

test("pagehide sends what is pending with keepalive", async () => {
  const { clock, api, dc, page, rec } = setup();
  await rec.ready;
  await clock.advance(250);
  dc.open();
  page.dispatchEvent(new Event("pagehide"));
  await clock.advance(0);
  assert.ok(api.srv.requests.at(-1).keepalive);
  assert.equal(rec.stats().pending, 0);
});
