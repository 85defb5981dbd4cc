// The config form's GA fields beyond voice and turns (console/session-config.js, console/effective.js):
// model, speed, formats, idle timeout, truncation, prompt, include and tracing. `node --test static/js/test/`.

import assert from "node:assert/strict";
import { test } from "node:test";

import { compareSession } from "../console/effective.js";
import { defaultForm, formToSession, sessionToForm } from "../console/session-config.js";

const filled = () => ({
  ...defaultForm(),
  model: "gpt-realtime-mini",
  speed: "1.25",
  input_format: "audio/pcmu",
  output_format: "audio/pcma",
  turn: { ...defaultForm().turn, idle_timeout_ms: "6000" },
  truncation: "retention_ratio",
  retention_ratio: "0.5",
  tracing: "auto",
  prompt: { id: "pmpt_1", version: "2", variables: '{"city":"Paris"}' },
  include_logprobs: true,
});

test("the defaults send the API's defaults and no model, prompt, include or tracing", () => {
  const { session } = formToSession(defaultForm());
  assert.deepEqual(session.audio.output, { voice: "marin", speed: 1, format: { type: "audio/pcm", rate: 24000 } });
  assert.deepEqual(session.audio.input.format, { type: "audio/pcm", rate: 24000 });
  assert.equal(session.audio.input.turn_detection.idle_timeout_ms, null);
  assert.equal(session.truncation, "auto");
  for (const k of ["model", "prompt", "include", "tracing"]) assert.equal(k in session, false, k);
});

test("every field reaches the session and comes back from it", () => {
  const { session, errors } = formToSession(filled());
  assert.deepEqual(errors, []);
  assert.equal(session.model, "gpt-realtime-mini");
  assert.deepEqual(session.audio.output, { voice: "marin", speed: 1.25, format: { type: "audio/pcma" } });
  assert.deepEqual(session.audio.input.format, { type: "audio/pcmu" });
  assert.equal(session.audio.input.turn_detection.idle_timeout_ms, 6000);
  assert.deepEqual(session.truncation, { type: "retention_ratio", retention_ratio: 0.5 });
  assert.equal(session.tracing, "auto");
  assert.deepEqual(session.prompt, { id: "pmpt_1", version: "2", variables: { city: "Paris" } });
  assert.deepEqual(session.include, ["item.input_audio_transcription.logprobs"]);
  const again = formToSession(sessionToForm(session)).session;
  assert.deepEqual(again, session);
  assert.ok(compareSession(session, session).every((r) => !r.differs));
  const rows = compareSession(session, { ...session, audio: { ...session.audio, output: { speed: 1 } } });
  assert.deepEqual(
    rows.filter((r) => r.differs).map((r) => r.field),
    ["voice", "speed", "output_format"],
  );
});

test("values the API refuses are errors naming the field", () => {
  const bad = {
    ...filled(),
    speed: "2",
    turn: { ...defaultForm().turn, idle_timeout_ms: "100" },
    retention_ratio: "1.5",
    prompt: { id: "p", version: "", variables: "[1]" },
  };
  const { session, errors } = formToSession(bad);
  assert.equal(session, null);
  assert.deepEqual(
    errors.map((e) => e.field),
    ["speed", "turn.idle_timeout_ms", "retention_ratio", "prompt.variables"],
  );
});
