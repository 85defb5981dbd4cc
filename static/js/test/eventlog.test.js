import { test } from "node:test";
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { createEventLog, formatRelTime, keyIds } from "../lib/eventlog.js";
import { builder, sessionEntries, synthetic } from "./fixtures.js";

test("deltas of one part fold into one row with the assembled text and every member", () => {
  const log = createEventLog();
  log.addMany(sessionEntries());
  const fold = log.rows.find((r) => r.type === "response.output_audio_transcript.delta" && r.ids.item_id === "item_A");
  assert.equal(fold.kind, "fold");
  assert.equal(fold.text, "Hello! How can I help?");
  assert.equal(fold.count, 3);
  assert.deepEqual(
    fold.entries.map((e) => e.event.delta),
    ["Hello", "! How", " can I help?"],
  );
  // The row stays where its first delta was, although output_audio_buffer.started came in between.
  const started = log.rows.find((r) => r.type === "output_audio_buffer.started");
  assert.ok(fold.index < started.index);
  // Every member seq resolves to the fold row.
  for (const e of fold.entries) assert.equal(log.rowOf(e.seq), fold);
  assert.equal(log.entryOf(fold.entries[1].seq).event.delta, "! How");

  const args = log.rows.find((r) => r.type === "response.function_call_arguments.delta");
  assert.equal(args.text, '{"location":"Paris"}');
  assert.equal(args.ids.call_id, "call_1");
  const user = log.rows.find((r) => r.type === "conversation.item.input_audio_transcription.delta");
  assert.equal(user.text, "Thanks");
  // .done events keep their own rows.
  assert.ok(log.rows.some((r) => r.type === "response.output_audio_transcript.done" && r.kind === "event"));
});

test("deltas of different items or content parts do not fold together", () => {
  const b = builder();
  const delta = (item, ci, text) =>
    b.server({
      type: "response.output_text.delta",
      response_id: "r",
      item_id: item,
      output_index: 0,
      content_index: ci,
      delta: text,
    });
  delta("a", 0, "x");
  delta("b", 0, "y");
  delta("a", 1, "z");
  delta("a", 0, "w");
  const log = createEventLog();
  log.addMany(b.entries);
  assert.deepEqual(
    log.rows.map((r) => [r.ids.item_id, r.text, r.count]),
    [
      ["a", "xw", 2],
      ["b", "y", 1],
      ["a", "z", 1],
    ],
  );
  assert.equal(log.size, 4);
});

test("a .done ends its fold: deltas after it start a new row", () => {
  const b = builder();
  const delta = (text) =>
    b.server({
      type: "response.output_text.delta",
      response_id: "r",
      item_id: "a",
      output_index: 0,
      content_index: 0,
      delta: text,
    });
  delta("x");
  delta("y");
  b.server({
    type: "response.output_text.done",
    response_id: "r",
    item_id: "a",
    output_index: 0,
    content_index: 0,
    text: "xy",
  });
  delta("z");
  const log = createEventLog();
  log.addMany(b.entries);
  assert.deepEqual(
    log.rows.map((r) => [r.kind, r.text]),
    [
      ["fold", "xy"],
      ["event", ""],
      ["fold", "z"],
    ],
  );
});

test("audio deltas fold into a byte count, not text", () => {
  const b = builder();
  for (let i = 0; i < 3; i++) {
    b.server({
      type: "response.output_audio.delta",
      response_id: "r",
      item_id: "a",
      output_index: 0,
      content_index: 0,
      delta: "AAAA",
    });
  }
  const log = createEventLog();
  log.addMany(b.entries);
  assert.equal(log.rows.length, 1);
  assert.equal(log.rows[0].text, "");
  assert.equal(log.rows[0].bytes, 9);
});

test("a repeated seq is ignored", () => {
  const log = createEventLog();
  const e = { seq: 5, ts: 1, direction: "server", event: { type: "x" } };
  assert.equal(log.add(e).created, true);
  assert.equal(log.add({ ...e }).created, false);
  assert.equal(log.size, 1);
});

test("key ids come from the event or from its nested item/response", () => {
  assert.deepEqual(keyIds({ type: "response.done", event_id: "e", response: { id: "resp_1" } }), {
    item_id: undefined,
    response_id: "resp_1",
    call_id: undefined,
    event_id: "e",
  });
  assert.deepEqual(keyIds({ type: "conversation.item.added", item: { id: "i", call_id: "c" } }), {
    item_id: "i",
    response_id: undefined,
    call_id: "c",
    event_id: undefined,
  });
});

test("an error row is flagged and linked to the client event that caused it, both ways", () => {
  const log = createEventLog();
  log.addMany(sessionEntries());
  assert.equal(log.errors.length, 1);
  const err = log.errors[0];
  assert.equal(err.level, "error");
  const cause = log.rowOf(err.causeSeq);
  assert.equal(cause.type, "response.cancel");
  assert.equal(cause.direction, "client");
  assert.deepEqual(cause.errorSeqs, [err.seq]);
});

test("an error whose cause arrives later (out-of-order import) is linked when it does", () => {
  const log = createEventLog();
  log.add({ seq: 10, ts: 2, direction: "server", event: { type: "error", error: { message: "bad", event_id: "c9" } } });
  assert.equal(log.errors[0].causeSeq, undefined);
  log.add({ seq: 9, ts: 1, direction: "client", event: { type: "session.update", event_id: "c9" } });
  assert.equal(log.errors[0].causeSeq, 9);
  assert.deepEqual(log.rowOf(9).errorSeqs, [10]);
});

test("failed and incomplete things are warnings", () => {
  const log = createEventLog();
  log.add({
    seq: 1,
    ts: 1,
    direction: "server",
    event: { type: "conversation.item.input_audio_transcription.failed" },
  });
  log.add({
    seq: 2,
    ts: 1,
    direction: "server",
    event: { type: "response.done", response: { id: "r", status: "incomplete" } },
  });
  log.add({
    seq: 3,
    ts: 1,
    direction: "server",
    event: { type: "response.done", response: { id: "r2", status: "completed" } },
  });
  assert.deepEqual(
    log.rows.map((r) => r.level),
    ["warn", "warn", undefined],
  );
});

test("filter by direction, type (exact, dotted prefix, raw prefix, list) and text", () => {
  const log = createEventLog();
  log.addMany(sessionEntries());
  const types = (f) => [...log.filter(f)].map((i) => log.rows[i].type);
  assert.ok(
    types({ directions: ["client"] }).every((t) =>
      ["conversation.item.create", "response.create", "response.cancel"].includes(t),
    ),
  );
  assert.deepEqual(types({ directions: new Set(["client", "server"]) }).length, log.rows.length);
  assert.deepEqual(types({ directions: [] }), []);
  assert.deepEqual(types({ type: "response.done" }), [
    "response.done",
    "response.done",
    "response.done",
    "response.done",
  ]);
  assert.deepEqual(new Set(types({ type: "response.output_audio" })), new Set(["response.output_audio.done"]));
  assert.ok(types({ type: "response" }).every((t) => t.startsWith("response.")));
  assert.ok(types({ type: "response.output_audio*" }).includes("response.output_audio_transcript.done"));
  assert.deepEqual(new Set(types({ type: "error, session*" })), new Set(["error", "session.created"]));
  // Text: case-insensitive, over the event JSON, and over a fold's assembled text.
  assert.deepEqual(
    types({ text: "GET_WEATHER" }).sort(),
    [
      "response.done",
      "response.function_call_arguments.done",
      "response.output_item.added",
      "response.output_item.done",
    ].sort(),
  );
  assert.deepEqual(types({ text: "how can i help" }).includes("response.output_audio_transcript.delta"), true);
  assert.deepEqual(types({ text: "paris", directions: ["client"] }), ["conversation.item.create"]);
  const row = log.rows[0];
  assert.equal(log.matches(row, { type: "session" }), true);
  assert.equal(log.matches(row, { directions: ["client"] }), false);
});

test("an entry with an unknown direction shows unfiltered and hides under a direction filter", () => {
  const log = createEventLog();
  log.add({ seq: 1, ts: 1, direction: "sideband", event: { type: "x" } });
  assert.equal(log.filter({}).length, 1);
  assert.equal(log.filter({ directions: ["client", "server", "system"], type: "x" }).length, 1);
  assert.equal(log.filter({ directions: ["client"] }).length, 0);
});

test("a fold row that grows is searched with its new text", () => {
  const log = createEventLog();
  const mk = (seq, delta) => ({
    seq,
    ts: seq,
    direction: "server",
    event: { type: "response.output_text.delta", item_id: "i", content_index: 0, delta },
  });
  log.add(mk(1, "Hel"));
  assert.equal(log.filter({ text: "hello" }).length, 0);
  log.add(mk(2, "lo"));
  assert.equal(log.filter({ text: "hello" }).length, 1);
});

test("relative time from the first entry or an explicit t0", () => {
  const log = createEventLog();
  log.add({ seq: 1, ts: 1000, direction: "system", event: { type: "a" } });
  assert.equal(log.relTime(1250), 250);
  log.setT0(900);
  assert.equal(log.relTime(1250), 350);
  assert.equal(createEventLog({ t0: 0 }).relTime(5), 5);
  assert.equal(formatRelTime(1234.5), "+1.234");
  assert.equal(formatRelTime(62_345), "+1:02.345");
  assert.equal(formatRelTime(-120), "-0.120");
});

test("clear empties the log", () => {
  const log = createEventLog();
  log.addMany(sessionEntries());
  log.clear();
  assert.equal(log.rows.length, 0);
  assert.equal(log.size, 0);
  assert.equal(log.errors.length, 0);
  assert.equal(log.t0, undefined);
});

test("timing: filtering 100k events (printed, not asserted)", () => {
  const entries = synthetic(100_000);
  const log = createEventLog();
  let t = performance.now();
  log.addMany(entries);
  const addMs = performance.now() - t;
  const time = (f) => {
    const t0 = performance.now();
    const n = log.filter(f).length;
    return [performance.now() - t0, n];
  };
  const [first, n1] = time({ text: "paris" }); // cold: builds the lowercase search text lazily
  log.clear();
  log.addMany(entries);
  t = performance.now();
  while (log.warmSearch(5000) > 0); // what the panel does in idle callbacks
  const warmMs = performance.now() - t;
  const [warm] = time({ text: "paris" });
  const [again, n2] = time({ text: "question number 4242" });
  const [typeMs] = time({ type: "response.done", directions: ["server"] });
  const [allMs] = time({ directions: ["client", "server"], type: "response", text: "resp_99" });
  console.log(
    `# 100k entries → ${log.rows.length} rows; add ${addMs.toFixed(1)} ms; ` +
      `text filter cold ${first.toFixed(1)} ms (${n1} rows), after warmSearch (${warmMs.toFixed(1)} ms idle work) ` +
      `${warm.toFixed(1)} ms, again ${again.toFixed(1)} ms (${n2}), ` +
      `type+dir ${typeMs.toFixed(1)} ms, dir+type+text ${allMs.toFixed(1)} ms`,
  );
  assert.ok(n2 >= 1);
});
