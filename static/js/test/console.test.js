// Unit tests of the console page's pure modules: `node --test static/js/test/`.

import assert from "node:assert/strict";
import { test } from "node:test";

import { createCallCoordinator } from "../console/calls.js";
import { interrupt, pttPress, pttRelease, userText } from "../console/commands.js";
import { createJournal } from "../console/journal.js";
import { createPresets } from "../console/presets.js";
import { saveStep } from "../console/presets-bar.js";
import { defaultForm, formToSession, manualTurns, sessionToForm } from "../console/session-config.js";
import { callIdFromLocation } from "../lib/recorder-wire.js";
import {
  BUILTIN_TOOLS,
  customTool,
  handlerFor,
  paletteOf,
  runBuiltin,
  withTool,
  withoutTool,
} from "../console/tools.js";

test("the default form is the GA session with server VAD", () => {
  const { session, errors } = formToSession(defaultForm());
  assert.deepEqual(errors, []);
  assert.equal(session.type, "realtime");
  assert.deepEqual(session.output_modalities, ["audio"]);
  assert.equal(session.audio.output.voice, "marin");
  assert.deepEqual(session.audio.input.turn_detection, {
    type: "server_vad",
    threshold: 0.5,
    prefix_padding_ms: 300,
    silence_duration_ms: 200,
    idle_timeout_ms: null,
    create_response: true,
    interrupt_response: true,
  });
  assert.equal(session.audio.input.transcription, null);
  assert.equal(session.audio.input.noise_reduction, null);
  assert.equal(session.max_output_tokens, "inf");
  assert.equal("instructions" in session, false, "empty instructions keep the server default");
});

test("semantic VAD, no VAD, text output and limits", () => {
  const f = defaultForm();
  f.turn = { ...f.turn, type: "semantic_vad", eagerness: "high", create_response: false };
  f.modality = "text";
  f.transcription = "whisper-1";
  f.noise_reduction = "far_field";
  f.max_output_tokens = "300";
  f.tool_choice = "get_current_time";
  f.instructions = "Be brief.";
  const { session } = formToSession(f);
  assert.deepEqual(session.audio.input.turn_detection, {
    type: "semantic_vad",
    eagerness: "high",
    create_response: false,
    interrupt_response: true,
  });
  assert.deepEqual(session.output_modalities, ["text"]);
  assert.deepEqual(session.audio.input.transcription, { model: "whisper-1" });
  assert.deepEqual(session.audio.input.noise_reduction, { type: "far_field" });
  assert.equal(session.max_output_tokens, 300);
  assert.deepEqual(session.tool_choice, { type: "function", name: "get_current_time" });
  assert.equal(session.instructions, "Be brief.");
  f.turn.type = "none";
  assert.equal(formToSession(f).session.audio.input.turn_detection, null);
  assert.equal(manualTurns(f), true);
});

test("bad fields are reported and nothing is sent", () => {
  const f = defaultForm();
  f.tools = '[{"description": "no name"}';
  f.max_output_tokens = "5000";
  f.turn.threshold = 2;
  const { session, errors } = formToSession(f);
  assert.equal(session, null);
  assert.deepEqual(errors.map((e) => e.field).sort(), ["max_output_tokens", "tools", "turn.threshold"]);
});

test("an effective session fills the form back", () => {
  const { session } = formToSession({ ...defaultForm(), voice: "cedar", tools: JSON.stringify(BUILTIN_TOOLS) });
  const form = sessionToForm(session);
  assert.equal(form.voice, "cedar");
  assert.deepEqual(formToSession(form).session, session);
});

test("push-to-talk and interrupt send the documented events", () => {
  assert.deepEqual(pttPress(false), []);
  assert.deepEqual(
    pttPress(true).map((e) => e.type),
    ["input_audio_buffer.clear"],
  );
  assert.deepEqual(
    pttRelease(true).map((e) => e.type),
    ["input_audio_buffer.commit"],
    "the answer waits for the server's committed (console/state.js commitAnswered)",
  );
  assert.deepEqual(
    interrupt(true).map((e) => e.type),
    ["response.cancel", "output_audio_buffer.clear"],
  );
  assert.deepEqual(
    interrupt(false).map((e) => e.type),
    ["output_audio_buffer.clear"],
  );
  const [item, create] = userText("hi");
  assert.deepEqual(item.item, { type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] });
  assert.equal(create.type, "response.create");
});

function callDone(id, name) {
  return {
    type: "response.done",
    response: { status: "completed", output: [{ type: "function_call", call_id: id, name, arguments: "{}" }] },
  };
}

test("function outputs wait for response.done, then one response.create", () => {
  const sent = [];
  const calls = [];
  const c = createCallCoordinator({ send: (evs) => sent.push(...evs), onCall: (call) => calls.push(call) });
  c.serverEvent({ type: "response.created" });
  c.serverEvent({
    type: "response.function_call_arguments.done",
    call_id: "call_1",
    name: "roll_dice",
    arguments: '{"count":1}',
  });
  assert.equal(calls.length, 1);
  c.resolve("call_1", { rolls: [4] });
  assert.deepEqual(sent, [], "nothing while the response is active");
  c.serverEvent(callDone("call_1", "roll_dice"));
  assert.equal(calls.length, 1, "the same call is not run twice");
  assert.deepEqual(
    sent.map((e) => e.type),
    ["conversation.item.create", "response.create"],
  );
  assert.equal(sent[0].item.call_id, "call_1");
  assert.equal(sent[0].item.output, '{"rolls":[4]}');
  assert.equal(c.isResponseActive(), true);
});

test("several calls: response.create once the last output is in", () => {
  const sent = [];
  const c = createCallCoordinator({ send: (evs) => sent.push(...evs), onCall: () => {} });
  c.serverEvent({ type: "response.created" });
  c.serverEvent({
    type: "response.done",
    response: {
      output: [
        { type: "function_call", call_id: "a", name: "x" },
        { type: "function_call", call_id: "b", name: "y" },
      ],
    },
  });
  c.resolve("a", "A");
  assert.deepEqual(
    sent.map((e) => e.type),
    ["conversation.item.create"],
  );
  assert.deepEqual(
    c.pending().map((p) => p.call_id),
    ["b"],
  );
  c.resolve("b", "B");
  assert.deepEqual(
    sent.map((e) => e.type),
    ["conversation.item.create", "conversation.item.create", "response.create"],
  );
});

test("a refused response.create does not block the next outputs", () => {
  const sent = [];
  const c = createCallCoordinator({ send: (evs) => sent.push(...evs), onCall: () => {} });
  c.clientEvent({ type: "response.create" });
  c.serverEvent({ type: "error", error: { code: "conversation_already_has_active_response" } });
  assert.equal(c.isResponseActive(), false);
});

test("built-in tools, mocks and prompts", () => {
  const t = runBuiltin("get_current_time", "{}", { now: new Date(0) });
  assert.equal(t.iso, "1970-01-01T00:00:00.000Z");
  const dice = runBuiltin("roll_dice", '{"count":3,"sides":6}', { random: () => 0.5 });
  assert.deepEqual(dice, { rolls: [4, 4, 4], sum: 12, sides: 6 });
  assert.deepEqual(paletteOf('{"theme":"sea","colors":["#00f","red","#112233"]}'), {
    theme: "sea",
    colors: ["#00f", "#112233"],
  });
  assert.equal(paletteOf("{}").colors.length, 5, "a default palette when the model gives none");
  assert.deepEqual(handlerFor("roll_dice", {}), { kind: "builtin" });
  assert.deepEqual(handlerFor("lookup", { lookup: '{"ok":true}' }), { kind: "mock", output: '{"ok":true}' });
  assert.deepEqual(handlerFor("lookup", { lookup: "" }), { kind: "prompt" });
  assert.ok(customTool({ name: "bad name" }).error);
  assert.ok(customTool({ name: "x", parameters: "{" }).error);
  const { tool } = customTool({ name: "lookup", description: "d", parameters: "" });
  assert.equal(tool.parameters.type, "object");
  const list = withTool(withTool([], tool), { ...tool, description: "new" });
  assert.equal(list.length, 1);
  assert.equal(list[0].description, "new");
  assert.deepEqual(withoutTool(list, "lookup"), []);
});

test("the journal numbers waiting events and shows the opening event first", () => {
  const shown = [];
  let ts = 100;
  const j = createJournal({ onEntry: (e) => shown.push(e), now: () => ts++ });
  assert.equal(j.push("system", { type: "console.connect" }), null);
  let next = 2;
  const recorded = [];
  j.begin((direction, event) => {
    recorded.push([direction, event]);
    return next++;
  });
  j.push("server", { type: "session.created" }, '{"type":"session.created"}');
  assert.deepEqual(shown, [], "held until the opening event");
  assert.deepEqual(recorded[1], ["server", '{"type":"session.created"}'], "raw text is recorded as received");
  j.adoptOpening({ seq: 1, ts: 1, direction: "system", event: { type: "console.token" } });
  j.push("client", { type: "response.create" });
  j.adoptTail({ seq: 2 ** 50, ts: 9, direction: "system", event: { type: "console.hangup" } });
  assert.deepEqual(
    shown.map((e) => e.seq),
    [1, 2, 3, 4, 2 ** 50],
  );
  assert.deepEqual(
    shown.map((e) => e.event.type),
    ["console.token", "console.connect", "session.created", "response.create", "console.hangup"],
  );
  assert.equal(shown[1].ts, 100, "a waiting event keeps its time");
});

test("a connect that failed before its session shows what waited and why, numbered on the page", () => {
  const shown = [];
  const j = createJournal({ onEntry: (e) => shown.push(e), now: () => 7 });
  j.push("system", { type: "console.connect" });
  j.showUnrecorded({ type: "console.error", where: "connect", message: "minting a key: too many requests" });
  assert.deepEqual(
    shown.map((e) => [e.seq, e.direction, e.event.type]),
    [
      [1, "system", "console.connect"],
      [2, "system", "console.error"],
    ],
  );
  assert.equal(j.entries().length, 2);
});

test("saving a preset under a name it has asks before replacing it", () => {
  assert.deepEqual(saveStep("  ", ["a"]), { step: "none" });
  assert.deepEqual(saveStep(" b ", ["a"]), { step: "save", name: "b" });
  assert.deepEqual(saveStep("a", ["a"]), { step: "replace", name: "a" });
});

test("presets round-trip through storage", () => {
  const map = new Map();
  const storage = { getItem: (k) => map.get(k) ?? null, setItem: (k, v) => map.set(k, v) };
  const p = createPresets(storage);
  assert.deepEqual(p.names(), []);
  p.save("b", { form: { voice: "ash" } });
  p.save("a", { form: { voice: "sage" } });
  assert.deepEqual(p.names(), ["a", "b"]);
  assert.equal(p.get("b").form.voice, "ash");
  p.remove("b");
  assert.deepEqual(p.names(), ["a"]);
  p.remember({ form: { voice: "echo" } });
  assert.equal(p.last().form.voice, "echo");
  map.set("realtime-console.presets.v1", "{broken");
  assert.deepEqual(p.names(), []);
});

test("the call id is the last segment of Location", () => {
  assert.equal(callIdFromLocation("/v1/realtime/calls/rtc_abc"), "rtc_abc");
  assert.equal(callIdFromLocation("https://api.openai.com/v1/realtime/calls/rtc_x?y=1"), "rtc_x");
  assert.equal(callIdFromLocation(null), null);
});
