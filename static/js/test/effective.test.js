// The server's effective session beside the form (console/effective.js), and the Apply outcome in
// console/state.js: `node --test static/js/test/`.

import assert from "node:assert/strict";
import { test } from "node:test";

import { agrees, compareSession } from "../console/effective.js";
import { defaultForm, formToSession } from "../console/session-config.js";
import * as act from "../console/state.js";

const formSession = (patch = {}) => formToSession({ ...defaultForm(), ...patch }).session;
/** What a server answers for the form's session: the same, plus fields of its own. */
const serverOf = (s) => ({
  ...s,
  id: "sess_1",
  instructions: s.instructions ?? "You are a helpful assistant.",
  audio: { ...s.audio, input: { ...s.audio.input, format: { type: "audio/pcm", rate: 24000 } } },
  tools: s.tools.map((t) => ({ ...t, description: t.description ?? "" })),
});

test("what the server adds is no difference; what it says otherwise is", () => {
  assert.ok(agrees({ a: 1, b: [1, { c: "x" }] }, { a: 1, b: [1, { c: "x", d: 2 }], e: 3 }));
  assert.ok(!agrees([1], [1, 2]));
  assert.ok(!agrees({ a: "not an object" }, { a: {} }));
  assert.ok(agrees(0.5, 0.5) && !agrees(null, {}));

  const mine = formSession({ tools: JSON.stringify([{ name: "lookup", parameters: { type: "object" } }]) });
  const rows = compareSession(mine, serverOf(mine));
  assert.deepEqual(
    rows.filter((r) => r.differs),
    [],
  );
  assert.ok(!rows.some((r) => r.field === "instructions"), "an empty instructions field keeps the server's");
  assert.ok(!rows.some((r) => r.field === "turn.eagerness"), "server_vad has no eagerness");
  assert.equal(rows.find((r) => r.field === "tools").server, "lookup");

  const refused = formSession({ tools: '[{"name":"bad_tool","parameters":"not an object"}]', voice: "cedar" });
  const differ = compareSession(refused, serverOf(mine)).filter((r) => r.differs);
  assert.deepEqual(
    differ.map((r) => [r.field, r.server]),
    [
      ["voice", "marin"],
      ["tools", "lookup"],
    ],
  );
  // Another turn type: the type differs, and its own fields are not compared.
  const none = { ...mine, audio: { ...mine.audio, input: { ...mine.audio.input, turn_detection: null } } };
  assert.deepEqual(
    compareSession(none, serverOf(mine))
      .filter((r) => r.differs)
      .map((r) => r.field),
    ["turn.type"],
  );
  assert.ok(
    compareSession(null, serverOf(mine)).every((r) => !r.differs),
    "an invalid form marks nothing",
  );
});

test("Apply says applied only on session.updated, and refused on an error naming it", () => {
  let s = act.initialState(null);
  s = act.serverEvent(s, { type: "session.created", session: { id: "a" } }, 5);
  assert.deepEqual(s.effective, { session: { id: "a" }, type: "session.created", seq: 5 });
  assert.deepEqual(act.configResult(s.update), { hidden: true });
  const update = { type: "session.update", event_id: "evt_u1", session: {} };
  s = act.updateSent(s, update);
  assert.equal(act.configResult(s.update).text, "Sent session.update; waiting for session.updated…");
  assert.doesNotMatch(s.status.text, /[Aa]pplied/);
  // Another event's error says nothing about the update.
  const other = act.serverEvent(s, { type: "error", error: { message: "x", event_id: "evt_other" } }, 6);
  assert.equal(other.update.outcome, "sent");
  const refused = act.serverEvent(
    s,
    { type: "error", error: { code: "invalid_type", message: "bad tools", event_id: "evt_u1" } },
    7,
  );
  assert.deepEqual(act.configResult(refused.update), {
    hidden: false,
    kind: "error",
    text: "Not applied: the server refused it (invalid_type: bad tools).",
    seq: 7,
    link: "error #7",
  });
  assert.deepEqual(refused.effective, s.effective, "the server's session is what it was");
  const applied = act.serverEvent(s, { type: "session.updated", session: { id: "b" } }, 8);
  assert.deepEqual(act.configResult(applied.update), {
    hidden: false,
    kind: "ok",
    text: "Applied.",
    seq: 8,
    link: "session.updated #8",
  });
  assert.equal(applied.status.text, "Applied: the server answered session.updated.");
  assert.equal(applied.effective.seq, 8);
  assert.equal(act.phaseChanged(applied, "connecting").effective, null, "a new call starts afresh");
});
