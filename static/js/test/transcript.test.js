import { test } from "node:test";
import assert from "node:assert/strict";
import { createTranscript } from "../lib/transcript.js";
import { builder, sessionEntries } from "./fixtures.js";

const view = (t) =>
  t.turns.map((x) => [
    x.role,
    x.kind === "function_call" ? `${x.name}(${x.arguments}) → ${x.output}` : x.text,
    x.status,
  ]);

test("a session's turns in conversation order, tool calls inline", () => {
  const t = createTranscript();
  assert.equal(t.addMany(sessionEntries()), true);
  assert.deepEqual(view(t), [
    ["user", "hi", "completed"],
    ["assistant", "Hello! How can I help?", "completed"],
    ["user", "Weather in Paris?", "completed"],
    ["tool", 'get_weather({"location":"Paris"}) → {"temp_c":21}', "completed"],
    ["assistant", "It is 21°C in Paris.", "completed"],
    ["user", "Thanks a lot.", "completed"],
    ["assistant", "You're welcome", "cancelled"],
    ["user", "", "in_progress"], // speech_started of the barge-in: the user is speaking
  ]);
  const [u, a] = t.turns;
  assert.equal(u.itemId, "item_U", "the client-created turn adopted the server's id");
  assert.equal(u.source, "text");
  assert.equal(a.source, "audio");
  assert.equal(a.responseId, "resp_1");
  assert.equal(t.turns[5].source, "audio");
  assert.equal(t.turns[3].callId, "call_1");
  assert.ok(t.turns[3].outputSeq > t.turns[3].seq);
});

test("a message with an image says so", () => {
  const b = builder();
  const t = createTranscript();
  const item = {
    id: "item_img",
    type: "message",
    role: "user",
    content: [
      { type: "input_text", text: "What is this?" },
      { type: "input_image", image_url: "data:image/png;base64,AAAA" },
    ],
  };
  t.add(b.client({ type: "conversation.item.create", item }));
  t.add(b.server({ type: "conversation.item.added", item }));
  assert.deepEqual(view(t), [["user", "What is this?", "completed"]]);
  assert.equal(t.turns[0].images, 1);
});

test("streamed text shows while it streams, and .done replaces it", () => {
  const b = builder();
  const t = createTranscript();
  const d = (delta) =>
    t.add(b.server({ type: "response.output_text.delta", response_id: "r", item_id: "i", content_index: 0, delta }));
  d("Hel");
  assert.deepEqual(view(t), [["assistant", "Hel", "in_progress"]]);
  const rev = t.turns[0].rev;
  d("lo");
  assert.equal(t.turns[0].text, "Hello");
  assert.ok(t.turns[0].rev > rev);
  t.add(
    b.server({ type: "response.output_text.done", response_id: "r", item_id: "i", content_index: 0, text: "Hello." }),
  );
  assert.equal(t.turns[0].text, "Hello.");
});

test("a user transcript that arrives before the item keeps its text when the item says null", () => {
  const b = builder();
  const t = createTranscript();
  t.add(
    b.server({
      type: "conversation.item.input_audio_transcription.completed",
      item_id: "v",
      content_index: 0,
      transcript: "Yes.",
    }),
  );
  t.add(
    b.server({
      type: "conversation.item.done",
      previous_item_id: null,
      item: {
        id: "v",
        type: "message",
        role: "user",
        status: "completed",
        content: [{ type: "input_audio", transcript: null }],
      },
    }),
  );
  assert.deepEqual(view(t), [["user", "Yes.", "completed"]]);
  // A late delta does not append to a completed transcript.
  t.add(
    b.server({
      type: "conversation.item.input_audio_transcription.delta",
      item_id: "v",
      content_index: 0,
      delta: "Yes",
    }),
  );
  assert.equal(t.turns[0].text, "Yes.");
});

test("transcription failure, truncation and deletion", () => {
  const b = builder();
  const t = createTranscript();
  t.add(b.server({ type: "input_audio_buffer.speech_started", item_id: "v" }));
  t.add(
    b.server({
      type: "conversation.item.input_audio_transcription.failed",
      item_id: "v",
      content_index: 0,
      error: { type: "transcription_error", message: "boom" },
    }),
  );
  assert.equal(t.turns[0].transcriptionError.message, "boom");
  t.add(
    b.server({
      type: "response.output_audio_transcript.delta",
      response_id: "r",
      item_id: "a",
      content_index: 0,
      delta: "Long answer",
    }),
  );
  t.add(b.server({ type: "conversation.item.truncated", item_id: "a", content_index: 0, audio_end_ms: 1500 }));
  assert.equal(t.turns[1].truncated, true);
  assert.equal(t.turns[1].audioEndMs, 1500);
  t.add(b.server({ type: "conversation.item.deleted", item_id: "v" }));
  assert.deepEqual(
    t.turns.map((x) => x.itemId),
    ["a"],
  );
});

test("previous_item_id places an item inserted earlier in the conversation", () => {
  const b = builder();
  const t = createTranscript();
  const item = (id, text) => ({
    id,
    type: "message",
    role: "user",
    status: "completed",
    content: [{ type: "input_text", text }],
  });
  t.add(b.server({ type: "conversation.item.added", previous_item_id: null, item: item("a", "one") }));
  t.add(b.server({ type: "conversation.item.added", previous_item_id: "a", item: item("c", "three") }));
  t.add(b.server({ type: "conversation.item.added", previous_item_id: "a", item: item("b", "two") }));
  t.add(b.server({ type: "conversation.item.added", previous_item_id: "root", item: item("z", "zero") }));
  assert.deepEqual(
    t.turns.map((x) => x.text),
    ["zero", "one", "two", "three"],
  );
});

test("a function output seen before its call (late recording) is attached when the call shows up", () => {
  const b = builder();
  const t = createTranscript();
  t.add(
    b.client({ type: "conversation.item.create", item: { type: "function_call_output", call_id: "k", output: "42" } }),
  );
  assert.equal(t.turns.length, 0);
  t.add(
    b.server({
      type: "response.function_call_arguments.done",
      response_id: "r",
      item_id: "f",
      call_id: "k",
      name: "answer",
      arguments: "{}",
    }),
  );
  assert.deepEqual(view(t), [["tool", "answer({}) → 42", "in_progress"]]);
});

test("client-created items with their own id, and system messages", () => {
  const b = builder();
  const t = createTranscript();
  t.add(
    b.client({
      type: "conversation.item.create",
      item: { id: "s1", type: "message", role: "system", content: [{ type: "input_text", text: "Be brief." }] },
    }),
  );
  t.add(
    b.server({
      type: "conversation.item.added",
      previous_item_id: null,
      item: {
        id: "s1",
        type: "message",
        role: "system",
        status: "completed",
        content: [{ type: "input_text", text: "Be brief." }],
      },
    }),
  );
  assert.deepEqual(view(t), [["system", "Be brief.", "completed"]]);
  t.clear();
  assert.equal(t.turns.length, 0);
});

test("events without a usable type are ignored", () => {
  const t = createTranscript();
  assert.equal(t.add({ seq: 1, ts: 1, direction: "server", event: {} }), false);
  assert.equal(t.add({ seq: 2, ts: 1, direction: "server", event: { type: "rate_limits.updated" } }), false);
  assert.equal(t.version, 0);
});

test("a conversation.item.create the server refused is marked failed", () => {
  const b = builder();
  const t = createTranscript();
  t.add(
    b.client({
      type: "conversation.item.create",
      event_id: "c1",
      previous_item_id: "nope",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: "hello" }] },
    }),
  );
  t.add(
    b.server({
      type: "error",
      error: { type: "invalid_request_error", code: "item_not_found", message: "no such item", event_id: "c1" },
    }),
  );
  assert.deepEqual(view(t), [["user", "hello", "failed"]]);
  assert.equal(t.turns[0].error.code, "item_not_found");
  // A later item with the same text is not adopted into the failed turn.
  t.add(
    b.server({
      type: "conversation.item.added",
      previous_item_id: null,
      item: {
        id: "u",
        type: "message",
        role: "user",
        status: "completed",
        content: [{ type: "input_text", text: "hello" }],
      },
    }),
  );
  assert.equal(t.turns.length, 2);
});

test("speech that is cleared before a commit leaves no turn", () => {
  const b = builder();
  const t = createTranscript();
  t.add(b.server({ type: "input_audio_buffer.speech_started", item_id: "v1" }));
  assert.equal(t.turns.length, 1);
  t.add(b.server({ type: "input_audio_buffer.cleared" }));
  assert.equal(t.turns.length, 0);
  t.add(b.server({ type: "input_audio_buffer.speech_started", item_id: "v2" }));
  t.add(b.server({ type: "input_audio_buffer.committed", item_id: "v2" }));
  t.add(b.server({ type: "input_audio_buffer.cleared" }));
  assert.equal(t.turns.length, 1, "a committed item stays");
});

test("messages the client created without ids (a seeded conversation) show once when the server names them", () => {
  const b = builder();
  const t = createTranscript();
  const msg = (role, type, text, id) => ({ ...(id ? { id } : {}), type: "message", role, content: [{ type, text }] });
  t.add(b.client({ type: "conversation.item.create", item: msg("user", "input_text", "Is it windy?") }));
  t.add(b.client({ type: "conversation.item.create", item: msg("assistant", "output_text", "Very windy.") }));
  t.add(b.server({ type: "conversation.item.added", item: msg("user", "input_text", "Is it windy?", "item_1") }));
  t.add(
    b.server({
      type: "conversation.item.added",
      previous_item_id: "item_1",
      item: msg("assistant", "output_text", "Very windy.", "item_2"),
    }),
  );
  t.add(b.server({ type: "conversation.item.done", item: msg("assistant", "output_text", "Very windy.", "item_2") }));
  // The model's own answer starts empty: a new turn, not the seeded one.
  t.add(
    b.server({
      type: "conversation.item.added",
      previous_item_id: "item_2",
      item: { id: "item_3", type: "message", role: "assistant", content: [] },
    }),
  );
  assert.deepEqual(view(t), [
    ["user", "Is it windy?", "completed"],
    ["assistant", "Very windy.", "completed"],
    ["assistant", "", "in_progress"],
  ]);
  assert.deepEqual(
    t.turns.map((x) => x.itemId),
    ["item_1", "item_2", "item_3"],
  );
});
