// Unit tests of "Open in console" on the live page (console/seed.js): `node --test static/js/test/`.

import assert from "node:assert/strict";
import { test } from "node:test";

import { readFileSync } from "node:fs";

import {
  createSeed,
  itemEvents,
  seedParams,
  seededOverrides,
  stripOverrides,
  useAllowedOverrides,
} from "../console/seed.js";
import { formToSession, sessionToForm } from "../console/session-config.js";

// The allow-list the server renders into the console page (rt_overrides.rs checks that it is this file).
useAllowedOverrides(JSON.parse(readFileSync(new URL("./allowed-overrides.json", import.meta.url), "utf8")));

// What the server stores as a session's config: the effective session, with fields an override may not set.
const RECORDED = {
  type: "realtime",
  id: "sess_1",
  object: "realtime.session",
  model: "gpt-realtime",
  instructions: "Be brief.",
  output_modalities: ["text"],
  tracing: "auto",
  truncation: "auto",
  include: null,
  audio: {
    input: {
      format: { type: "audio/pcm", rate: 24000 },
      turn_detection: {
        type: "server_vad",
        threshold: 0.6,
        prefix_padding_ms: 300,
        silence_duration_ms: 500,
        idle_timeout_ms: null,
        create_response: true,
        interrupt_response: false,
      },
      transcription: null,
      noise_reduction: { type: "far_field" },
    },
    output: { format: { type: "audio/pcm", rate: 24000 }, voice: "cedar", speed: 1 },
  },
  tools: [{ type: "function", name: "f", description: "d", parameters: { type: "object" } }],
  tool_choice: "auto",
  max_output_tokens: "inf",
};

test("a recorded config is cut to the fields the server accepts as overrides", () => {
  const s = stripOverrides(RECORDED);
  assert.deepEqual(Object.keys(s).sort(), [
    "audio",
    "instructions",
    "max_output_tokens",
    "model",
    "output_modalities",
    "tool_choice",
    "tools",
    "tracing",
    "truncation",
    "type",
  ]);
  assert.equal("include" in s, false, "a recorded include: null is no override (the schema wants an array)");
  assert.deepEqual(Object.keys(s.audio.input).sort(), ["format", "noise_reduction", "transcription", "turn_detection"]);
  assert.deepEqual(s.audio.output, { format: { type: "audio/pcm", rate: 24000 }, voice: "cedar", speed: 1 });
  // Below the checked levels a value is kept whole.
  assert.equal(s.audio.input.turn_detection.idle_timeout_ms, null);
  assert.deepEqual(s.tools, RECORDED.tools);
  assert.deepEqual(stripOverrides(null), {});
  assert.deepEqual(stripOverrides({ audio: "x", object: "realtime.session" }), {});
});

test("the form wins over the seed, which keeps what the form cannot show", () => {
  const seed = stripOverrides(RECORDED);
  const { session: form } = formToSession(sessionToForm(seed));
  const merged = seededOverrides(seed, form);
  assert.equal(merged.model, "gpt-realtime", "the model is not in the form: the seed keeps it");
  assert.equal(merged.instructions, "Be brief.");
  assert.equal(merged.audio.output.voice, "cedar");
  assert.deepEqual(merged.audio.input.noise_reduction, { type: "far_field" });
  assert.deepEqual(merged.audio.input.turn_detection, form.audio.input.turn_detection, "taken whole from the form");
  assert.deepEqual(stripOverrides(merged), merged, "nothing the server would refuse");
  // The user cleared the instructions: the server's default, not the seed's.
  const { instructions: _gone, ...cleared } = form;
  assert.equal("instructions" in seededOverrides(seed, cleared), false);
  const edited = seededOverrides(seed, { ...form, audio: { ...form.audio, output: { voice: "marin" } } });
  assert.equal(edited.audio.output.voice, "marin");
  assert.deepEqual(edited.audio.input.noise_reduction, { type: "far_field" });
});

test("seed parameters come from the query string", () => {
  assert.equal(seedParams(""), null);
  assert.equal(seedParams("?seed="), null);
  assert.deepEqual(seedParams("?seed=abc"), { id: "abc", conversation: false });
  assert.deepEqual(seedParams("?seed=abc&conversation=1"), { id: "abc", conversation: true });
});

test("a seed marks the new session once and hands its items out once", async () => {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push([url, init.method, JSON.parse(init.body)]);
    return { ok: true, status: 200 };
  };
  const items = [
    { type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] },
    { type: "message", role: "assistant", content: [{ type: "output_text", text: "hello" }] },
  ];
  const seed = createSeed({ id: "old", conversation: true, session: {}, items }, { fetch });
  assert.equal(seed.state(), "ready");
  assert.deepEqual(seed.take(), [], "nothing before a session exists");
  const marking = seed.attach("new");
  assert.equal(seed.state(), "attached", "at once, before the PATCH answers");
  await marking;
  await seed.attach("other");
  assert.deepEqual(calls, [["/api/sessions/new", "PATCH", { seeded_from: "old" }]]);
  const events = seed.take();
  assert.deepEqual(
    events.map((e) => [e.type, e.item]),
    items.map((i) => ["conversation.item.create", i]),
  );
  assert.ok(events.every((e) => typeof e.event_id === "string"));
  assert.deepEqual(seed.take(), []);
  assert.equal(seed.state(), "sent");

  const configOnly = createSeed({ id: "old", conversation: false, session: {}, items }, { fetch });
  await configOnly.attach("new2");
  assert.equal(configOnly.state(), "sent");
  assert.deepEqual(configOnly.take(), [], "no items without conversation=1");

  const errors = [];
  const refused = createSeed(
    { id: "old", conversation: false, session: {}, items: [] },
    { fetch: async () => ({ ok: false, status: 400 }), onError: (m) => errors.push(m) },
  );
  await refused.attach("new3");
  assert.equal(errors.length, 1);
  assert.deepEqual(itemEvents(undefined), []);
});
