// The audio uploader (lib/audio-upload.js), the peak line (lib/audio-peaks.js) and the recording's pure parts
// (console/audio-rec.js): idempotent, acknowledged, retried, surviving a reload. `node --test static/js/test/`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { fakeClock, settle } from "./recorder-fakes.js";
import { chunkId, createAudioUploader, resumeAudio, toBase64 } from "../lib/audio-upload.js";
import { createPeakLine, scalePeak } from "../lib/audio-peaks.js";
import { audioText, chunkStart } from "../console/audio-rec.js";

const MIME = "audio/webm;codecs=opus";

/** The audio endpoint's contract: PUT by track+seq, a resend of the same bytes is 200 stored:false. */
function fakeAudioServer() {
  const stored = new Map(); // "track/seq" → {bytes: string, start, peaks, mime}
  const srv = {
    stored,
    requests: [],
    mode: "up", // "up" | "down" | "500" | "lose" (store, then drop the answer) | "hang"
    fetch: async (url, init) => {
      const m = /^\/api\/sessions\/([^/]+)\/audio\/(user|model)\/(\d+)$/.exec(url);
      assert.ok(m, url);
      assert.equal(init.method, "PUT");
      const bytes = new TextDecoder().decode(await new Response(init.body).arrayBuffer());
      srv.requests.push({ url, init, bytes });
      if (srv.mode === "down") throw new TypeError("Failed to fetch");
      if (srv.mode === "hang") return new Promise(() => {});
      if (srv.mode === "500") return answer(500, { error: { message: "boom", code: "internal" } });
      const key = `${m[2]}/${m[3]}`;
      const had = stored.get(key);
      let res;
      if (had && had.bytes !== bytes)
        res = answer(409, { error: { code: "audio_chunk_conflict", message: "differs" } });
      else {
        if (!had) {
          const h = init.headers;
          stored.set(key, {
            bytes,
            start: Number(h["X-Audio-Start"]),
            peaks: h["X-Audio-Peaks"],
            mime: h["Content-Type"],
          });
        }
        res = answer(had ? 200 : 201, { track: m[2], seq: Number(m[3]), stored: !had });
      }
      if (srv.mode === "lose") throw new TypeError("the answer was lost");
      return res;
    },
  };
  return srv;
}

function answer(status, body) {
  return { status, json: async () => body, headers: { get: () => null } };
}

function fakeStore() {
  const m = new Map();
  return {
    m,
    put: async (r) => void m.set(r.id, structuredClone(r)),
    delete: async (id) => void m.delete(id),
    all: async () => [...m.values()],
  };
}

function setup({ store = null, restored = [] } = {}) {
  const clock = fakeClock();
  const srv = fakeAudioServer();
  const up = createAudioUploader({ sessionId: "s1", fetch: srv.fetch, store, restored, ...clock, random: () => 0.5 });
  return { clock, srv, up };
}

const chunk = (track, seq, text = `${track}-${seq}`) => ({
  track,
  seq,
  mime: MIME,
  start: 1_764_000_000_000 + seq * 1000,
  peaks: toBase64(new Uint8Array([seq, 255])),
  body: new Blob([text], { type: MIME }),
  seconds: 1,
});

test("chunks are PUT by track and seq with their start and peaks, one at a time, and acknowledged", async () => {
  const { clock, srv, up } = setup();
  up.add(chunk("user", 0));
  up.add(chunk("model", 0));
  up.add(chunk("user", 1));
  await clock.advance(0);
  assert.deepEqual(
    srv.requests.map((r) => r.url),
    ["/api/sessions/s1/audio/user/0", "/api/sessions/s1/audio/model/0", "/api/sessions/s1/audio/user/1"],
  );
  const u1 = srv.stored.get("user/1");
  assert.deepEqual(u1, {
    bytes: "user-1",
    start: 1_764_000_001_000,
    peaks: toBase64(new Uint8Array([1, 255])),
    mime: MIME,
  });
  const st = up.stats();
  assert.deepEqual([st.uploaded, st.pending, st.state, st.uploadedBytes], [3, 0, "idle", 19]);
  assert.deepEqual(st.tracks.user, { chunks: 2, bytes: 12, seconds: 2 });
});

test("a chunk resent after its acknowledgement was lost is stored once, and acknowledged by the 200", async () => {
  const { clock, srv, up } = setup();
  srv.mode = "lose";
  up.add(chunk("user", 0));
  await clock.advance(0);
  assert.equal(srv.stored.size, 1, "the server stored it");
  assert.equal(up.stats().state, "backoff", "but the page never heard");
  assert.equal(up.stats().pending, 1);
  srv.mode = "up";
  await clock.advance(1000);
  assert.equal(srv.requests.length, 2);
  assert.equal(srv.requests[1].bytes, srv.requests[0].bytes, "the resend is the same bytes");
  assert.equal(srv.stored.size, 1);
  const st = up.stats();
  assert.deepEqual([st.uploaded, st.duplicates, st.pending, st.state], [1, 1, 0, "idle"]);
});

test("network errors and 5xx back off exponentially; flush() retries now", async () => {
  const { clock, srv, up } = setup();
  srv.mode = "down";
  up.add(chunk("user", 0));
  await clock.advance(0);
  await clock.advance(374); // 500 ms × (0.5 + 0.5·0.5) = 375 ms
  assert.equal(srv.requests.length, 1);
  await clock.advance(1);
  assert.equal(srv.requests.length, 2);
  srv.mode = "500";
  await clock.advance(750);
  assert.equal(srv.requests.length, 3);
  assert.equal(up.stats().lastError.status, 500);
  srv.mode = "up";
  const done = up.flush();
  await clock.advance(0);
  assert.equal((await done).pending, 0);
  assert.equal(srv.stored.size, 1);
});

test("a 409 conflict halts and keeps the chunk; nothing loops", async () => {
  const { clock, srv, up } = setup();
  srv.stored.set("user/0", { bytes: "someone else's" });
  up.add(chunk("user", 0));
  up.add(chunk("user", 1));
  await clock.advance(60_000);
  assert.equal(srv.requests.length, 1);
  const st = up.stats();
  assert.deepEqual([st.state, st.pending, st.lastError.code], ["halted", 2, "audio_chunk_conflict"]);
});

test("a timeout counts as a failure and the chunk is retried", async () => {
  const { clock, srv, up } = setup();
  srv.mode = "hang";
  up.add(chunk("model", 0));
  await clock.advance(0);
  srv.mode = "up";
  await clock.advance(30_000 + 1000);
  assert.equal(srv.requests.length, 2);
  assert.equal(up.stats().pending, 0);
});

test("unacknowledged chunks stay in the store, and a later page uploads them (a reload, a server restart)", async () => {
  const store = fakeStore();
  const first = setup({ store });
  first.srv.mode = "down";
  first.up.add(chunk("user", 0));
  first.up.add(chunk("model", 0));
  await first.clock.advance(5000);
  await first.up.persisted();
  assert.deepEqual([...store.m.keys()].sort(), [chunkId("s1", "model", 0), chunkId("s1", "user", 0)]);
  // The page goes away; the next one finds them.
  const srv = fakeAudioServer();
  const clock = fakeClock();
  const resumed = resumeAudio(store, { fetch: srv.fetch, ...clock, random: () => 0.5 });
  await clock.advance(0);
  const [{ sessionId, stats }] = await resumed;
  assert.equal(sessionId, "s1");
  assert.deepEqual([stats.restored, stats.uploaded, stats.pending], [2, 2, 0]);
  assert.deepEqual([...srv.stored.keys()].sort(), ["model/0", "user/0"]);
  assert.equal(store.m.size, 0, "acknowledged chunks leave the store");
});

test("an acknowledged chunk leaves the store only after it was put there", async () => {
  const store = fakeStore();
  const { clock, up } = setup({ store });
  up.add(chunk("user", 0));
  await clock.advance(0);
  await up.persisted();
  assert.equal(store.m.size, 0);
  assert.equal(up.stats().uploaded, 1);
});

test("close() resolves once everything is acknowledged; add() after it throws", async () => {
  const { clock, srv, up } = setup();
  srv.mode = "down";
  up.add(chunk("user", 0));
  const closed = up.close();
  await clock.advance(2000);
  srv.mode = "up";
  await clock.advance(5000);
  const st = await closed;
  assert.deepEqual([st.state, st.pending, st.uploaded], ["closed", 0, 1]);
  assert.throws(() => up.add(chunk("user", 1)), /closed/);
  await settle();
});

test("peaks: scaled to 0..255, placed on the 20 ms grid, cut per chunk with zeros where nothing was measured", () => {
  assert.deepEqual([scalePeak(0), scalePeak(0.5), scalePeak(1), scalePeak(1.7)], [0, 128, 255, 255]);
  const line = createPeakLine();
  line.push(1000, [0.1, 0.2, 0.3, 0.4, 0.5]);
  line.push(1101, [1, 1]); // 1 ms of clock jitter: still bins 5 and 6
  assert.equal(line.coveredUntil(), 1140);
  assert.deepEqual([...line.slice(1040, 1140)], [77, 102, 128, 255, 255]);
  assert.deepEqual([...line.slice(960, 1020)], [0, 0, 26]);
  line.forgetBefore(1060);
  assert.deepEqual([...line.slice(1040, 1100)], [0, 102, 128]);
  assert.equal(line.coveredUntil(), 1140);
});

test("chunk starts: chunk 0 at the recorder's start, later ones by timecode, else where the last one ended", () => {
  const t0 = 5000;
  assert.equal(chunkStart({ index: 0, t0, timecode: 123, firstTimecode: 123 }), 5000);
  assert.equal(chunkStart({ index: 2, t0, timecode: 2123, firstTimecode: 123, prevStart: 6000, prevEnd: 7010 }), 7000);
  assert.equal(
    chunkStart({ index: 2, t0, timecode: undefined, firstTimecode: 123, prevStart: 6000, prevEnd: 7010 }),
    7010,
  );
  assert.equal(chunkStart({ index: 2, t0, timecode: 100, firstTimecode: 123, prevStart: 6000, prevEnd: 7010 }), 7010);
});

test("the status text says how much audio is uploaded and pending", () => {
  assert.equal(audioText(true, null), "audio: on");
  assert.equal(audioText(false, null), "audio: off");
  const st = {
    tracks: { user: { seconds: 12.4 }, model: { seconds: 12.1 } },
    uploadedBytes: 98_000,
    pending: 2,
    pendingBytes: 8200,
    state: "backoff",
    lastError: { code: "network_error" },
  };
  assert.equal(audioText(true, st), "audio 12 s · 96 KiB uploaded · 2 pending (8 KiB) · retrying");
  assert.equal(audioText(true, { ...st, pending: 0, state: "idle" }), "audio 12 s · 96 KiB uploaded");
});
