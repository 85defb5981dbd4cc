import assert from "node:assert/strict";
import { test } from "node:test";

import { MISSING_ITEM, TEMPLATES, composed, itemIdOf, templateText } from "../console/composer.js";

test("there is a template for every client event, and free JSON", () => {
  const types = new Set(TEMPLATES.map((t) => t.build({}).type));
  for (const type of [
    "session.update",
    "response.create",
    "response.cancel",
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "output_audio_buffer.clear",
  ])
    assert.ok(types.has(type), type);
  assert.ok(TEMPLATES.some((t) => t.name === "free JSON"));
  const oob = TEMPLATES.map((t) => t.build({})).find((e) => e.response?.conversation === "none");
  assert.ok(oob.response.input.length && oob.response.metadata, "out of band: conversation none, input, metadata");
  const full = TEMPLATES[0].build({});
  assert.ok(full.response.instructions && full.response.tools.length && full.response.metadata);
  const append = TEMPLATES.map((t) => t.build({})).find((e) => e.type === "input_audio_buffer.append");
  assert.equal(Buffer.from(append.audio, "base64").length, 4800, "100 ms of PCM16 at 24 kHz");
});

test("the item templates name the conversation's last item, else one that is missing", () => {
  assert.equal(JSON.parse(templateText("conversation.item.retrieve")).item_id, MISSING_ITEM);
  assert.equal(JSON.parse(templateText("conversation.item.delete", { itemId: "item_1" })).item_id, "item_1");
  assert.equal(itemIdOf({ type: "conversation.item.added", item: { id: "item_2" } }), "item_2");
  assert.equal(itemIdOf({ type: "conversation.item.deleted", item_id: "item_2" }), undefined);
  assert.equal(itemIdOf({ type: "response.done", response: {} }), undefined);
});

test("what the user typed: an object with a type, given an event_id when it has none or repeats one", () => {
  const newId = () => "evt_new";
  assert.match(composed("{", { newId }).error, /^Not JSON/);
  assert.equal(composed("[1]", { newId }).error, "A client event is a JSON object.");
  assert.equal(composed('{"type":""}', { newId }).error, 'The event needs a "type".');
  assert.deepEqual(composed('{"type":"response.cancel"}', { newId }).event, {
    type: "response.cancel",
    event_id: "evt_new",
  });
  assert.equal(composed('{"type":"x","event_id":"mine"}', { newId }).event.event_id, "mine");
  assert.equal(composed('{"type":"x","event_id":"mine"}', { newId, lastEventId: "mine" }).event.event_id, "evt_new");
});
