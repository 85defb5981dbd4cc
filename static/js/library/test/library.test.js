// Pure modules of the library and inspector: `node --test static/js/library/test/` (Node ≥ 20).

import { test } from "node:test";
import assert from "node:assert/strict";
import { createReplay } from "../replay.js";
import { densityBuckets, nearest, timeAt } from "../timeline.js";
import { apiFilter } from "../filters.js";
import { itemsFromTurns, lastSessionConfig } from "../seed.js";
import { storeUsageToApi } from "../usage.js";

/** A fake clock: timers fire when `advance` passes them. */
function fakeClock() {
  let now = 0;
  let timers = [];
  return {
    setTimer: (fn, ms) => {
      const t = { at: now + ms, fn };
      timers.push(t);
      return t;
    },
    clearTimer: (t) => {
      timers = timers.filter((x) => x !== t);
    },
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        await new Promise((r) => setImmediate(r));
        timers.sort((a, b) => a.at - b.at);
        const t = timers[0];
        if (!t || t.at > end) break;
        timers.shift();
        now = t.at;
        t.fn();
      }
      now = end;
      await new Promise((r) => setImmediate(r));
    },
  };
}

const entries = (n, gap = 100) =>
  Array.from({ length: n }, (_, i) => ({ seq: i + 1, ts: 1000 + i * gap, direction: "server", event: { type: "x" } }));

function pager(all, size = 3) {
  return async (after) => {
    const rest = all.filter((e) => e.seq > after);
    const events = rest.slice(0, size);
    return { events, next: rest.length > size ? events.at(-1).seq : null };
  };
}

test("replay plays at the recorded pace times the speed, pauses, steps and seeks", async () => {
  const clock = fakeClock();
  const played = [];
  let resets = 0;
  const r = createReplay({
    fetchPage: pager(entries(10)),
    onEntry: (e) => played.push(e.seq),
    onReset: () => {
      resets += 1;
      played.length = 0;
    },
    ...clock,
  });
  r.play();
  await clock.advance(0);
  assert.deepEqual(played, [1]);
  await clock.advance(250); // 100 ms apart at 1×: two more
  assert.deepEqual(played, [1, 2, 3]);
  r.setSpeed(10);
  await clock.advance(30); // 10 ms apart at 10×
  assert.deepEqual(played, [1, 2, 3, 4, 5, 6]);
  r.pause();
  await clock.advance(1000);
  assert.equal(played.length, 6);
  await r.step();
  assert.deepEqual(played.slice(-1), [7]);
  await r.seek(1000 + 4 * 100);
  assert.equal(resets, 1);
  assert.deepEqual(played, [1, 2, 3, 4, 5]);
  await r.instant();
  assert.deepEqual(played, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(r.state.done, true);
});

test("replay shortens long silences", async () => {
  const clock = fakeClock();
  const played = [];
  const r = createReplay({
    fetchPage: pager(entries(2, 600_000)),
    onEntry: (e) => played.push(e.seq),
    maxGapMs: 5000,
    ...clock,
  });
  r.play();
  await clock.advance(5001);
  assert.deepEqual(played, [1, 2]);
});

test("timeline density spreads events between samples over their time", () => {
  const { t0, t1, counts } = densityBuckets(
    [
      { ingest_no: 1, ts: 0 },
      { ingest_no: 101, ts: 100 },
    ],
    10,
  );
  assert.equal(t0, 0);
  assert.equal(t1, 100);
  assert.equal(Math.round(counts.reduce((a, b) => a + b, 0)), 101);
  assert.equal(timeAt(5, 10, 0, 100), 50);
  assert.deepEqual(
    nearest(
      [
        { seq: 1, ts: 0 },
        { seq: 9, ts: 90 },
      ],
      70,
    ),
    { seq: 9, ts: 90 },
  );
});

test("the panel's filter becomes the API's where the API can say it", () => {
  const types = ["error", "response.done", "response.output_text.delta", "response.output_text.done"];
  assert.equal(apiFilter({}, types), null);
  assert.deepEqual(apiFilter({ type: "response.done" }, types), { type: "response.done" });
  assert.deepEqual(apiFilter({ type: "response" }, types), { type: "response." });
  assert.deepEqual(apiFilter({ type: "response.output_text" }, types), { type: "response.output_text." });
  assert.deepEqual(apiFilter({ directions: ["client"], text: "Oslo" }, types), { direction: "client", q: "Oslo" });
  assert.equal(apiFilter({ directions: ["client", "server"] }, types), null);
});

test("a seed rebuilds the conversation as items", () => {
  const items = itemsFromTurns([
    { kind: "message", role: "user", text: "Weather in Oslo?" },
    {
      kind: "function_call",
      role: "assistant",
      callId: "c1",
      name: "get_weather",
      arguments: '{"city":"Oslo"}',
      output: '{"c":3}',
    },
    { kind: "message", role: "assistant", text: "3 degrees." },
    { kind: "message", role: "user", text: "  " },
  ]);
  assert.deepEqual(
    items.map((i) => i.type + ":" + (i.role ?? i.call_id)),
    ["message:user", "function_call:c1", "function_call_output:c1", "message:assistant"],
  );
  assert.equal(items[3].content[0].type, "output_text");
});

test("stored usage reads like a response.usage", () => {
  const u = storeUsageToApi({
    input_tokens: 10,
    output_tokens: 5,
    total_tokens: 15,
    input_audio_tokens: 4,
    cached_tokens: 2,
  });
  assert.equal(u.input_token_details.audio_tokens, 4);
  assert.equal(u.input_token_details.cached_tokens, 2);
});

test("a replay that reached the end plays again from the start", async () => {
  const clock = fakeClock();
  const played = [];
  let resets = 0;
  const r = createReplay({
    fetchPage: pager(entries(4, 10)),
    onEntry: (e) => played.push(e.seq),
    onReset: () => {
      resets += 1;
      played.length = 0;
    },
    ...clock,
  });
  r.play();
  await clock.advance(100);
  assert.deepEqual(played, [1, 2, 3, 4]);
  assert.equal(r.state.done, true);
  assert.equal(r.state.playing, false);
  r.play();
  assert.equal(resets, 1, "it starts over");
  assert.equal(r.state.played, 0);
  await clock.advance(100);
  assert.deepEqual(played, [1, 2, 3, 4]);
  assert.equal(r.state.done, true);
});

test("a seed takes the config the session ended with: its server's last session.created or session.updated", () => {
  const at = (seq, direction, type, session) => ({ seq, ts: seq, direction, event: { type, session } });
  const page1 = [
    at(1, "server", "session.created", { instructions: "first" }),
    at(2, "client", "session.update", { instructions: "asked for" }),
  ];
  const page2 = [
    at(3, "server", "session.updated", { instructions: "last" }),
    at(4, "server", "session.updated", "not an object"),
  ];
  assert.deepEqual(lastSessionConfig(page1), { instructions: "first" });
  assert.deepEqual(lastSessionConfig(page2, lastSessionConfig(page1)), { instructions: "last" });
  assert.equal(lastSessionConfig([at(1, "client", "session.update", { instructions: "x" })]), null);
});
