// The inspector's audio without a DOM (library/audio.js): peaks to lane columns, turn spans and barge-ins,
// the player's clock and how a track follows it, the WAV encoder. `node --test static/js/library/test/`.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as au from "../audio.js";

const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const T = 1_764_000_000_000;

test("the listing and the peaks make one model: tracks, their ends, the span", () => {
  const listing = {
    tracks: [
      { track: "user", mime: "audio/webm;codecs=opus", start: T, end: null, bytes: 10, chunks: [] },
      // 8 kHz PCM: 16 bytes a ms. Two chunks sent at once: the second is heard after the first.
      {
        track: "model",
        mime: "audio/pcm;rate=8000",
        start: T + 500,
        end: T + 900,
        bytes: 6400,
        chunks: [
          { seq: 0, start: T + 500, bytes: 3200 },
          { seq: 1, start: T + 510, bytes: 3200 },
        ],
      },
    ],
  };
  const peaks = {
    interval_ms: 20,
    tracks: {
      user: [
        { start: T, peaks: b64([1, 2]) },
        { start: T + 1000, peaks: b64([3, 4, 5]) },
      ],
      model: [
        { start: T + 500, peaks: b64([9]) },
        { start: T + 510, peaks: b64([9]) },
      ],
    },
  };
  const m = au.audioModel(listing, peaks);
  assert.equal(m.tracks.user.end, T + 1060, "an Opus track ends where its last peak does");
  assert.equal(m.tracks.user.pcm, false);
  assert.deepEqual(m.tracks.user.segments, [{ at: T, file: 0, ms: 1060 }], "an Opus track is one recording");
  assert.equal(m.tracks.model.end, T + 900, "a PCM track ends where its chunks, one after another, do");
  assert.deepEqual(m.tracks.model.segments, [
    { at: T + 500, file: 0, ms: 200 },
    { at: T + 700, file: 0.2, ms: 200 },
  ]);
  assert.deepEqual(
    m.tracks.model.chunks.map((c) => c.start),
    [T + 500, T + 700],
    "a PCM chunk's peaks are drawn where it is heard",
  );
  assert.equal(m.tracks.model.pcm, true);
  assert.deepEqual([...m.tracks.user.chunks[1].peaks], [3, 4, 5]);
  assert.deepEqual(m.span, { t0: T, t1: T + 1060 });
  assert.deepEqual(au.audioModel({ tracks: [] }, null).span, null, "no audio, no span");
});

test("an Opus track without peaks ends a chunk after its last, or as long as its bytes say", () => {
  const opus = (chunks, bytes) => ({ track: "user", mime: "audio/webm", start: T, end: null, bytes, chunks });
  const sliced = au.audioModel(
    {
      tracks: [
        opus(
          [0, 1000, 2000].map((d, seq) => ({ seq, start: T + d })),
          9,
        ),
      ],
    },
    null,
  );
  assert.equal(sliced.tracks.user.end, T + 3000);
  const one = au.audioModel({ tracks: [opus([{ seq: 0, start: T }], 4_000)] }, null);
  assert.equal(one.tracks.user.end, T + 1000, "32 kbit/s");
});

test("lane columns keep the loudest peak of each column, placed on the events' clock", () => {
  // 10 columns over 1 s: 100 ms a column, 5 peaks a column.
  const chunks = [
    { start: T + 200, peaks: Uint8Array.from([10, 200, 30, 0, 0, 5]) },
    { start: T + 900, peaks: Uint8Array.from([7, 7, 7, 7, 7, 99]) }, // the last ones fall past the end
  ];
  const cols = au.laneColumns(chunks, { t0: T, t1: T + 1000, width: 10 });
  assert.deepEqual([...cols], [0, 0, 200, 5, 0, 0, 0, 0, 0, 7]);
  const before = au.laneColumns([{ start: T - 1000, peaks: Uint8Array.from([255]) }], {
    t0: T,
    t1: T + 1000,
    width: 10,
  });
  assert.deepEqual([...before], new Array(10).fill(0), "what lies outside the span is not drawn");
  // Zoomed in (10 columns over 100 ms, 10 ms a column): each 20 ms peak covers its two columns.
  const near = au.laneColumns([{ start: T + 20, peaks: Uint8Array.from([5, 0, 9]) }], {
    t0: T,
    t1: T + 100,
    width: 10,
  });
  assert.deepEqual([...near], [0, 0, 5, 5, 0, 0, 9, 9, 0, 0]);
});

test("a 60-minute track (180,000 peaks) is columned in a few milliseconds", () => {
  // Timing is printed, not asserted (house style): `node --test static/js/library/test/audio.test.js`.
  const peaks = new Uint8Array(3000).map((_, i) => i % 256);
  const chunks = Array.from({ length: 60 }, (_, i) => ({ start: T + i * 60_000, peaks }));
  const encoded = chunks.map((c) => ({ start: c.start, peaks: b64(c.peaks) }));
  const t = performance.now();
  const m = au.audioModel(
    { tracks: [{ track: "user", mime: "audio/webm;codecs=opus", start: T, end: null }] },
    { interval_ms: 20, tracks: { user: encoded } },
  );
  const decoded = performance.now();
  const cols = au.laneColumns(m.tracks.user.chunks, { t0: T, t1: T + 3_600_000, width: 1200 });
  const done = performance.now();
  assert.equal(cols.length, 1200);
  assert.ok(
    cols.every((c) => c > 0),
    "every column holds sound",
  );
  console.log(
    `audio lanes: 180,000 peaks decoded in ${(decoded - t).toFixed(1)} ms, columned in ${(done - decoded).toFixed(1)} ms`,
  );
});

const entry = (seq, ts, event, direction = "server") => ({ seq, ts, direction, event });

test("turn spans: speech from audio_start_ms/audio_end_ms on the user track, model audio from its buffer", () => {
  const user0 = T + 1000;
  const entries = [
    entry(1, T + 1400, { type: "input_audio_buffer.speech_started", audio_start_ms: 300, item_id: "u1" }),
    entry(2, T + 2600, { type: "input_audio_buffer.speech_stopped", audio_end_ms: 1500, item_id: "u1" }),
    entry(3, T + 3000, { type: "output_audio_buffer.started", response_id: "r1" }),
    // WebRTC also has deltas? Not in practice; if it did, the buffer's events win.
    entry(4, T + 3100, { type: "response.output_audio.delta", response_id: "r1", item_id: "a1" }),
    entry(5, T + 6000, { type: "output_audio_buffer.stopped", response_id: "r1" }),
  ];
  const { spans, bargeIns } = au.turnSpans(entries, { userClock: (ms) => user0 + ms });
  assert.deepEqual(
    spans.map((s) => [s.who, s.start, s.end]),
    [
      ["user", user0 + 300, user0 + 1500],
      ["model", T + 3000, T + 6000],
    ],
  );
  assert.deepEqual(bargeIns, []);
  // Without a user track, speech is placed at its events' ts.
  const alone = au.turnSpans(entries).spans[0];
  assert.deepEqual([alone.start, alone.end], [T + 1400, T + 2600]);
});

test("turn spans on a WebSocket session: the first and last output delta of each response", () => {
  const entries = [
    entry(1, T + 100, { type: "response.output_audio.delta", response_id: "r1", item_id: "a1" }),
    entry(2, T + 200, { type: "response.output_audio.delta", response_id: "r1", item_id: "a1" }),
    entry(3, T + 900, { type: "response.output_audio.delta", response_id: "r1", item_id: "a1" }),
    entry(4, T + 2000, { type: "response.output_audio.delta", response_id: "r2", item_id: "a2" }),
  ];
  const { spans } = au.turnSpans(entries);
  assert.deepEqual(
    spans.map((s) => [s.responseId, s.itemId, s.start, s.end]),
    [
      ["r1", "a1", T + 100, T + 900],
      ["r2", "a2", T + 2000, T + 2000],
    ],
  );
});

test("a barge-in is marked once where it happened: speech inside model audio, cleared, truncate", () => {
  const entries = [
    entry(1, T + 1000, { type: "output_audio_buffer.started", response_id: "r1" }),
    entry(2, T + 2500, { type: "input_audio_buffer.speech_started", audio_start_ms: 2400, item_id: "u2" }),
    entry(3, T + 2600, { type: "output_audio_buffer.cleared", response_id: "r1" }),
    entry(4, T + 2650, { type: "conversation.item.truncate", item_id: "a1", audio_end_ms: 1500 }, "client"),
    entry(5, T + 3500, { type: "input_audio_buffer.speech_stopped", audio_end_ms: 3300, item_id: "u2" }),
    entry(9, T + 9000, { type: "conversation.item.truncate", item_id: "a3", audio_end_ms: 10 }, "client"),
  ];
  const { spans, bargeIns } = au.turnSpans(entries, { userClock: (ms) => T + ms });
  assert.deepEqual(
    spans.map((s) => [s.who, s.start, s.end]),
    [
      ["model", T + 1000, T + 2600],
      ["user", T + 2400, T + 3300],
    ],
  );
  assert.deepEqual(bargeIns, [
    { ts: T + 2400, seq: 2, why: "speech" },
    { ts: T + 9000, seq: 9, why: "truncate" },
  ]);
  // Speech after the model stopped is no barge-in.
  const calm = au.turnSpans([
    entries[0],
    entry(2, T + 1500, { type: "output_audio_buffer.stopped", response_id: "r1" }),
  ]);
  assert.deepEqual(calm.bargeIns, []);
});

test("a span never closed ends where it starts", () => {
  const { spans } = au.turnSpans([entry(1, T, { type: "output_audio_buffer.started", response_id: "r1" })]);
  assert.equal(spans[0].end, T);
});

test("a transcript turn is heard at its span's start, matched by item or response, else at its ts", () => {
  const spans = [
    { who: "user", start: T + 100, end: T + 900, itemId: "u1" },
    { who: "model", start: T + 1000, end: T + 2000, responseId: "r1" },
  ];
  assert.equal(au.turnStart({ role: "user", itemId: "u1", ts: T + 950 }, spans), T + 100);
  assert.equal(au.turnStart({ role: "assistant", itemId: "a1", responseId: "r1", ts: T + 1200 }, spans), T + 1000);
  assert.equal(au.turnStart({ role: "assistant", itemId: "a9", responseId: "r9", ts: T + 5000 }, spans), T + 5000);
  // An assistant item added without its response's id: the model audio starting just after it.
  assert.equal(au.turnStart({ role: "assistant", itemId: "a1", ts: T + 990 }, spans), T + 1000);
  assert.equal(au.turnStart({ role: "assistant", itemId: "a1", ts: T - 9000 }, spans), T - 9000, "too long before");
  const turns = [
    { role: "user", itemId: "u1", ts: T + 950 },
    { role: "assistant", responseId: "r1", ts: T + 1200 },
  ];
  assert.equal(au.turnAtTime(turns, spans, T + 50), undefined);
  assert.equal(au.turnAtTime(turns, spans, T + 500), turns[0]);
  assert.equal(au.turnAtTime(turns, spans, T + 1001), turns[1]);
});

test("the clock runs at its rate from where it was sought, and stands still when paused", () => {
  let wall = 0;
  const c = au.createClock(() => wall, { start: T });
  wall = 500;
  assert.equal(c.pos(), T, "paused");
  c.play();
  wall = 1500;
  assert.equal(c.pos(), T + 1000);
  c.setRate(2);
  wall = 2000;
  assert.equal(c.pos(), T + 2000);
  c.seek(T + 10_000);
  wall = 2500;
  assert.equal(c.pos(), T + 11_000);
  c.pause();
  wall = 9000;
  assert.equal(c.pos(), T + 11_000);
  assert.equal(c.playing, false);
  assert.equal(c.rate, 2);
});

test("the PCM formats the server reads", () => {
  assert.deepEqual(au.pcmFormat("audio/pcm;rate=16000"), { rate: 16000, bytesPerSample: 2 });
  assert.deepEqual(au.pcmFormat("audio/pcm"), { rate: 24000, bytesPerSample: 2 });
  assert.deepEqual(au.pcmFormat("audio/pcmu"), { rate: 8000, bytesPerSample: 1 });
  assert.equal(au.pcmFormat("audio/webm;codecs=opus"), null);
});

test("where a track's file stands: inside a segment, or parked at the next one's start", () => {
  const segs = [
    { at: T, file: 0, ms: 1000 },
    { at: T + 5000, file: 1, ms: 500 },
  ];
  assert.deepEqual(au.trackTime(segs, T - 10), { inside: false, time: 0 });
  assert.deepEqual(au.trackTime(segs, T + 250), { inside: true, time: 0.25 });
  assert.deepEqual(au.trackTime(segs, T + 3000), { inside: false, time: 1 }, "in the gap: at the next one");
  assert.deepEqual(au.trackTime(segs, T + 5100), { inside: true, time: 1.1 });
  assert.deepEqual(au.trackTime(segs, T + 9000), { inside: false, time: 1.5 }, "after: at the end");
  assert.deepEqual(au.trackTime([], T), { inside: false, time: 0 });
  // And back: a time into the file is heard in its segment.
  assert.equal(au.clockAt(segs, 0.25), T + 250);
  assert.equal(au.clockAt(segs, 1.1), T + 5100);
  assert.equal(au.clockAt(segs, 2), T + 6000, "past the end: on from the last segment");
});

test("a track follows the clock: plays inside itself, catches up or is sought, parked outside", () => {
  const track = { segments: [{ at: T + 1000, file: 0, ms: 4000 }] };
  assert.deepEqual(au.syncTrack(track, T + 500, true, 0), { play: false, seek: null, rate: 1 }, "before it: at 0");
  assert.deepEqual(au.syncTrack(track, T + 2000, true, 1.01), { play: true, seek: null, rate: 1 }, "in step");
  assert.deepEqual(au.syncTrack(track, T + 2000, true, 0.9, 2), { play: true, seek: null, rate: 2.1 }, "behind");
  assert.deepEqual(au.syncTrack(track, T + 2000, true, 1.1), { play: true, seek: null, rate: 0.95 }, "ahead");
  assert.deepEqual(au.syncTrack(track, T + 2000, true, 0), { play: true, seek: 1, rate: 1 }, "far off: sought");
  assert.deepEqual(au.syncTrack(track, T + 6000, true, 3.9), { play: false, seek: 4, rate: 1 }, "after it: at its end");
  assert.deepEqual(
    au.syncTrack(track, T + 3000, false, 0),
    { play: false, seek: 2, rate: 1 },
    "paused: where it stands",
  );
});

test("the audio clock readout", () => {
  assert.equal(au.audioClock(0), "0:00.0");
  assert.equal(au.audioClock(62_345), "1:02.3");
  assert.equal(au.audioClock(3_723_400), "1:02:03.4");
});

test("the row at a time: the last one started by then", () => {
  const rows = [{ ts: 10 }, { ts: 20 }, { ts: 20 }, { ts: 35 }];
  assert.equal(au.rowAtTime(rows, 5), -1);
  assert.equal(au.rowAtTime(rows, 20), 2);
  assert.equal(au.rowAtTime(rows, 34), 2);
  assert.equal(au.rowAtTime(rows, 99), 3);
});

test("WAV: a 16-bit PCM file, channels interleaved, samples clamped", () => {
  const left = Float32Array.from([0, 1, -1, 2]);
  const right = Float32Array.from([0.5, -0.5, 0, -2]);
  const wav = au.encodeWav([left, right], 24000);
  const v = new DataView(wav.buffer);
  const text = (at, n) => String.fromCharCode(...wav.slice(at, at + n));
  assert.equal(text(0, 4), "RIFF");
  assert.equal(v.getUint32(4, true), wav.length - 8);
  assert.equal(text(8, 8), "WAVEfmt ");
  assert.equal(v.getUint16(20, true), 1, "PCM");
  assert.equal(v.getUint16(22, true), 2, "stereo");
  assert.equal(v.getUint32(24, true), 24000);
  assert.equal(v.getUint32(28, true), 24000 * 4);
  assert.equal(v.getUint16(32, true), 4);
  assert.equal(v.getUint16(34, true), 16);
  assert.equal(text(36, 4), "data");
  assert.equal(v.getUint32(40, true), 16);
  const samples = [];
  for (let at = 44; at < wav.length; at += 2) samples.push(v.getInt16(at, true));
  assert.deepEqual(samples, [0, 16384, 32767, -16384, -32768, 0, 32767, -32768]);
  assert.equal(au.encodeWav([], 8000).length, 44, "no samples: a header alone");
});

test("union of spans", () => {
  assert.deepEqual(au.unionSpan({ t0: 5, t1: 9 }, null, { t0: 1, t1: 7 }), { t0: 1, t1: 9 });
  assert.equal(au.unionSpan(null), null);
  assert.equal(au.isEncoded("audio/webm;codecs=opus"), true);
  assert.equal(au.isEncoded("audio/pcm;rate=24000"), false);
});
