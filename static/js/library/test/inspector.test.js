// The inspector's state and decisions (library/inspector-state.js), without a DOM:
// `node --test static/js/library/test/`.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as act from "../inspector-state.js";

const start = (total = 100, live = false) => act.initialState({ id: "s1", total, live });

test("pages: a small first page, then full ones, until the listing is complete", () => {
  let s = act.reloaded(start(), 0, null);
  assert.equal(s.view, 1);
  const first = act.nextPage(s, 0);
  assert.deepEqual(first, { view: 1, after: 0, filter: null, limit: act.FIRST_PAGE });
  s = act.pageArrived(s, first, { next_after_seq: 200 });
  assert.deepEqual(s.listing, { after: 0, filter: null, next: 200 });
  assert.deepEqual(act.nextPage(s, 200), { view: 1, after: 200, filter: null, limit: act.PAGE });
  s = act.pageArrived(s, act.nextPage(s, 200), { next_after_seq: null });
  assert.equal(act.nextPage(s, 250), null, "complete");
  assert.equal(act.isWhole(s.listing), true);
  // A filtered listing never uses the preloaded first page.
  const filtered = act.reloaded(start(), 0, { type: "error" });
  assert.equal(act.nextPage(filtered, 0).limit, act.PAGE);
  assert.equal(act.isWhole({ after: 0, filter: { type: "error" }, next: null }), false);
  assert.equal(act.isWhole({ after: 10, filter: null, next: null }), false);
});

test("a page that arrives for an older view is dropped", () => {
  const s = act.reloaded(start(), 0, null);
  const request = act.nextPage(s, 0);
  const newer = act.reloaded(s, 400, null);
  assert.equal(act.pageArrived(newer, request, { next_after_seq: 200 }), null);
  assert.equal(act.detached(newer, { newView: true }).view, newer.view + 1, "a replay starts a view too");
  assert.equal(act.detached(newer).listing.next, null);
});

test("the query, the status line and what loads whole", () => {
  assert.equal(act.pageQuery(0, null, 200), "after_seq=0&limit=200");
  assert.equal(act.pageQuery(10, { type: "error", q: "x y" }, 500), "after_seq=10&limit=500&type=error&q=x+y");
  const s = act.reloaded(start(120), 0, null);
  assert.deepEqual(act.listingStatus(s, 0), { text: "0 of 120 events loaded.", more: true });
  const from = act.reloaded(start(120), 40, { type: "error" });
  assert.equal(act.listingStatus(from, 3).text, "3 of 120 events loaded from seq 41 matching the filter.");
  assert.equal(act.listingStatus({ ...s, listing: { ...s.listing, next: null } }, 120).more, false);
  // A live session loaded whole that grew past what the page was rendered with.
  assert.equal(
    act.listingStatus({ ...s, listing: { ...s.listing, next: null } }, 131).text,
    "131 of 131 events loaded.",
  );
  assert.equal(act.loadsWhole(s), true);
  assert.equal(act.loadsWhole(act.reloaded(start(act.LOAD_ALL_UP_TO + 1), 0, null)), false);
  assert.equal(act.loadsWhole(from), false);
});

test("a filter goes to the server only when the page holds part of the session", () => {
  const types = ["response.done", "response.output_text.delta", "error"];
  const whole = { ...start(), types, listing: { after: 0, filter: null, next: null } };
  assert.equal(act.filterReload(whole, { type: "error" }, 0), null, "the panel filters what it holds");
  const part = { ...start(), types, listing: { after: 0, filter: null, next: 500 } };
  assert.deepEqual(act.filterReload(part, { type: "error" }, 0), { filter: { type: "error" } });
  assert.deepEqual(act.filterReload(part, { type: "response" }, 0), { filter: { type: "response." } });
  assert.equal(act.filterReload(part, {}, 0), null, "no filter, none loaded: the same listing");
  const filtered = { ...part, listing: { after: 0, filter: { type: "error" }, next: null } };
  assert.equal(act.filterReload(filtered, { type: "error" }, 0), null, "the same filter");
  assert.deepEqual(act.filterReload(filtered, {}, 0), { filter: null }, "cleared: the whole listing again");
  assert.equal(act.filterReload(part, { type: "error" }, 3), null, "a replay owns the views");
  assert.equal(act.filterReload({ ...part, live: true }, { type: "error" }, 0), null, "live: the panel filters");
});

test("a deep link loads a small session whole and reveals its event; a big one from a little before it", () => {
  assert.deepEqual(act.startLoad(start(235), 120), { after: 0, whole: true, reveal: 120 });
  assert.deepEqual(act.startLoad(start(235), NaN), { after: 0, whole: true, reveal: null });
  assert.deepEqual(act.startLoad(start(act.LOAD_ALL_UP_TO + 1), 9000), { after: 8950, whole: false, reveal: 9000 });
  assert.deepEqual(act.startLoad(start(act.LOAD_ALL_UP_TO + 1), NaN), { after: 0, whole: false, reveal: null });
});

test("the header counts a live session as the server does", () => {
  const entries = [
    { seq: 1, ts: 5_000, direction: "server", event: { type: "session.created" } },
    { seq: 3, ts: 9_000, direction: "server", event: { type: "response.done" } },
    { seq: 2, ts: 7_000, direction: "server", event: { type: "error" } },
    { seq: 4, ts: 3_725_000 + 5_000, direction: "server", event: { type: "response.done" } },
  ];
  const tally = entries.reduce(act.tallied, act.EMPTY_TALLY);
  assert.deepEqual(act.tallyHeader(tally), { count: 4, errors: 1, turns: 2, duration: "1:02:05" });
  assert.deepEqual(act.tallyHeader(act.EMPTY_TALLY), { count: 0, errors: 0, turns: 0, duration: "0:00" });
  assert.equal(act.clock(4_999), "0:04");
  assert.equal(act.clock(123_000), "2:03");
});

test("deep links, jumps and the live session's end", () => {
  assert.equal(act.seqFromHash("#seq-123"), 123);
  assert.ok(Number.isNaN(act.seqFromHash("#seq-")));
  assert.ok(Number.isNaN(act.seqFromHash("")));
  assert.equal(act.jumpStart(30), 0);
  assert.equal(act.jumpStart(1000), 950);
  const live = start(10, true);
  const going = act.sessionUpdated(live, { created_at: 0, ended_at: null, stats: { events: { total: 12 } } });
  assert.deepEqual(going, {
    state: { ...live, total: 12 },
    header: { count: 12, errors: 0, turns: 0, duration: "0:00" },
  });
  const stats = { events: { total: 14 }, errors: 1, responses: 3, first_event_ts: 1000, last_event_ts: 64_500 };
  const ended = act.sessionUpdated(live, { created_at: 0, ended_at: 5, stats });
  assert.equal(ended.state.live, false);
  assert.deepEqual(ended.header, { count: 14, errors: 1, turns: 3, duration: "1:03" });
  assert.equal(act.openInConsoleHref("a b", false), "/?seed=a%20b");
  assert.equal(act.openInConsoleHref("s1", true), "/?seed=s1&conversation=1");
});

test("the replay controls and the slider follow the replay's position on the timeline", () => {
  const span = act.timelineSpan({ points: [{ ts: 2000 }, { ts: 1000 }, { ts: 3000 }] });
  assert.deepEqual(span, { t0: 1000, t1: 3000 });
  assert.equal(act.timelineSpan({ points: [] }), null);
  assert.equal(act.timelineSpan(null), null);
  assert.deepEqual(act.replayView({ playing: true, played: 4, done: false, position: 1500 }, span), {
    playing: true,
    pos: "4 events",
    cursor: 1500,
    scrub: "250",
  });
  const end = act.replayView({ playing: false, played: 9, done: true, position: null }, span);
  assert.deepEqual([end.pos, end.cursor, end.scrub], ["9 events · end", null, null]);
  assert.equal(act.replayView({ playing: false, played: 1, done: false, position: 1000 }, null).scrub, null);
  assert.equal(act.scrubTime("500", span), 2000);
  assert.equal(act.scrubTime(1000, span), 3000);
});

test("a big session's usage reads the event types it needs, merged in seq order", () => {
  const at = (seq, type) => ({ seq, ts: seq, direction: "server", event: { type } });
  assert.ok(act.USAGE_TYPES.includes("response.done"));
  assert.ok(!act.USAGE_TYPES.some((t) => t.endsWith(".delta")), "no deltas: they are most of a session");
  const merged = act.mergeBySeq([
    [at(1, "session.created")],
    [at(3, "response.created")],
    [at(2, "response.create"), at(9, "response.done")],
  ]);
  assert.deepEqual(
    merged.map((e) => e.seq),
    [1, 2, 3, 9],
  );
});
