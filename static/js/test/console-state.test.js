// Unit tests of the console page's state and actions (console/state.js), without a DOM:
// `node --test static/js/test/`.

import assert from "node:assert/strict";
import { test } from "node:test";

import { createSeed } from "../console/seed.js";
import * as act from "../console/state.js";
import { BUILTIN_TOOLS } from "../console/tools.js";

const fresh = () => act.initialState(null);

test("a fresh page: idle, the defaults with the built-in tools, nothing remembered", () => {
  const s = fresh();
  assert.equal(s.phase, "idle");
  assert.deepEqual(s.chips, { ice: "new", peer: "new", channel: "closed" });
  assert.deepEqual(s.mocks, {});
  assert.deepEqual(JSON.parse(act.initialForm(null).tools), BUILTIN_TOOLS);
  assert.deepEqual(act.controls(s), { connect: true, flow: true, disconnect: false, talk: false, apply: false });
  // The config remembered from the last visit comes back, with its custom tools' outputs.
  const last = { form: { voice: "cedar" }, mocks: { lookup: "42" } };
  assert.deepEqual(act.initialState(last).mocks, { lookup: "42" });
  assert.deepEqual(act.initialForm(last), { voice: "cedar" });
});

test("the phases of a connection drive the controls, the chips and the status line", () => {
  let s = act.phaseChanged(fresh(), "connecting");
  assert.equal(s.phase, "connecting");
  assert.deepEqual(s.status, { text: "Connecting…", kind: "info" });
  assert.equal(s.session.label, "…");
  assert.deepEqual(act.controls(s), { connect: false, flow: false, disconnect: true, talk: false, apply: false });
  s = act.phaseChanged(s, "session", { sessionId: "s_1" });
  assert.deepEqual(s.session, { label: "s_1", id: "s_1" });
  assert.equal(act.phaseChanged(s, "track", { stream: {} }), s, "a track changes nothing shown");
  s = act.chipChanged(s, "ice", "connected");
  assert.equal(act.chipChanged(s, "ice", "connected"), s, "the same state again: nothing to do");
  assert.equal(act.chipChanged(s, "other", "x"), s, "not a chip");
  s = act.chipChanged(act.chipChanged(s, "peer", "connected"), "channel", "open");
  assert.equal(s.status.text, "Connecting…", "the chips say nothing while connecting");
  s = act.phaseChanged(s, "open", { connectMs: 412.6 });
  assert.deepEqual(s.status, { text: "Connected in 413 ms (click → data channel open).", kind: "ok" });
  assert.deepEqual(act.controls(s), { connect: false, flow: false, disconnect: true, talk: true, apply: true });
  assert.equal(act.controls({ ...s, configValid: false }).apply, false, "Apply needs a valid config");
  s = act.phaseChanged(s, "closed-remote");
  assert.equal(s.phase, "ended");
  assert.equal(s.status.kind, "error");
  assert.equal(act.controls(s).disconnect, true, "an ended call still needs Disconnect");
});

test("going idle closes the chips, except a failure, which says why the call ended", () => {
  let s = act.phaseChanged(fresh(), "connecting");
  s = act.chipChanged(s, "ice", "failed");
  s = act.phaseChanged(s, "idle", { error: "HTTP 429: too many requests" });
  assert.deepEqual(s.chips, { ice: "failed", peer: "closed", channel: "closed" });
  assert.deepEqual(s.status, { text: "Connect failed: HTTP 429: too many requests", kind: "error" });
  assert.equal(act.controls(s).connect, true, "Connect can be tried again");
  assert.equal(act.phaseChanged(s, "idle", {}).status.text, "Disconnected.");
});

test("connect and apply check the config first", () => {
  const bad = { session: null, errors: [{ message: "tools: not JSON" }] };
  const refused = act.connectRequested(fresh(), bad, "ephemeral");
  assert.equal(refused.connect, undefined);
  assert.deepEqual(refused.state.status, { text: "Fix the session config: tools: not JSON", kind: "error" });
  const session = { type: "realtime", instructions: "hi" };
  assert.deepEqual(act.connectRequested(fresh(), { session, errors: [] }, "unified").connect, {
    flow: "unified",
    session,
  });
  assert.equal(act.applyRequested(fresh(), bad).events, undefined);
  const [update] = act.applyRequested(fresh(), { session, errors: [] }).events;
  assert.equal(update.type, "session.update");
  assert.deepEqual(update.session, session);
});

test("an unused seed's config is what connects; a used one is not", () => {
  const fetch = async () => ({ ok: true });
  const seed = createSeed({ id: "old", conversation: false, session: { voice_like: 1 }, items: [] }, { fetch });
  const s = { ...fresh(), seed };
  const session = { type: "realtime", instructions: "x" };
  assert.deepEqual(
    act.connectRequested(s, { session, errors: [] }, "ephemeral").connect.session,
    seed.overrides(session),
  );
  seed.attach("new");
  assert.deepEqual(act.connectRequested(s, { session, errors: [] }, "ephemeral").connect.session, session);
});

test("tools: toggling, adding and removing give the new list and keep the custom tools' outputs", () => {
  const time = BUILTIN_TOOLS[0];
  let r = act.toolToggled(fresh(), [], { name: time.name, on: true });
  assert.deepEqual(r.tools, [time]);
  r = act.toolToggled(r.state, r.tools, { name: time.name, on: false });
  assert.deepEqual(r.tools, []);
  const tool = { type: "function", name: "lookup", description: "", parameters: {} };
  r = act.toolAdded(r.state, r.tools, { tool, mock: '{"ok":true}' });
  assert.deepEqual(r.tools, [tool]);
  assert.deepEqual(r.state.mocks, { lookup: '{"ok":true}' });
  r = act.toolRemoved(r.state, r.tools, { name: "lookup" });
  assert.deepEqual(r.tools, []);
  assert.deepEqual(r.state.mocks, {});
  // While the tools JSON is broken nothing changes but the status line.
  const broken = act.toolAdded(fresh(), null, { tool, mock: "" });
  assert.equal(broken.tools, undefined);
  assert.deepEqual(broken.state.status, { text: "Fix the tools JSON first.", kind: "error" });
  assert.equal(act.toolRemoved(fresh(), null, { name: "x" }).tools, undefined);
  assert.deepEqual(act.toolsOf({ tools: "[1]" }), [1]);
  assert.equal(act.toolsOf({ tools: "{" }), null);
  assert.equal(act.toolsOf({ tools: "{}" }), null);
});

test("a function call: a built-in runs, a mock answers, anything else waits for the user", () => {
  const clock = { now: new Date("2025-01-02T03:04:05Z"), random: () => 0 };
  const builtin = act.callArrived(fresh(), { name: "get_current_time", call_id: "c1", arguments: "{}" }, clock);
  assert.equal(JSON.parse(builtin.output).iso, "2025-01-02T03:04:05.000Z");
  assert.equal(builtin.palette, null);
  const palette = act.callArrived(fresh(), {
    name: "display_color_palette",
    call_id: "c2",
    arguments: JSON.stringify({ theme: "sea", colors: ["#000", "#fff"] }),
  });
  assert.deepEqual(palette.palette.colors, ["#000", "#fff"]);
  const mocked = { ...fresh(), mocks: { lookup: "shipped" } };
  assert.deepEqual(act.callArrived(mocked, { name: "lookup", call_id: "c3", arguments: "{}" }), {
    state: mocked,
    output: "shipped",
  });
  const waiting = act.callArrived(fresh(), { name: "lookup", call_id: "c4", arguments: "{}" });
  assert.equal(waiting.pending, true);
  assert.deepEqual(waiting.state.pendingCalls, { c4: "lookup" });
  assert.equal(waiting.state.status.text, "The model called lookup: type its output in the Tools panel.");
  const answered = act.callAnswered(waiting.state, "c4");
  assert.equal(answered.name, "lookup");
  assert.deepEqual(answered.state.pendingCalls, {});
  assert.equal(act.callAnswered(answered.state, "c4").name, "?");
});

test("status lines: server errors, presets, leftovers", () => {
  const s = fresh();
  assert.equal(act.serverEvent(s, { type: "response.done" }), s);
  assert.deepEqual(act.serverEvent(s, { type: "error", error: { message: "bad" } }).status, {
    text: "Server error: bad",
    kind: "error",
  });
  assert.equal(act.serverEvent(s, { type: "error" }).status.text, "Server error: unknown");
  const loaded = act.presetLoaded(s, "demo", { form: {}, mocks: { a: "1" } }, true);
  assert.deepEqual(loaded.mocks, { a: "1" });
  assert.equal(loaded.status.text, "Loaded preset “demo” — Apply sends it to the live session.");
  assert.equal(act.presetLoaded(s, "demo", { form: {} }, false).status.text, "Loaded preset “demo”.");
  assert.equal(act.leftoversStatus(s, 0), s);
  assert.match(act.leftoversStatus(s, 2).status.text, /\(2 sessions\)\.$/);
  assert.match(act.leftoversStatus(s, 1).status.text, /\(1 session\)\.$/);
});

test("the recorder's badge", () => {
  assert.deepEqual(act.recBadge({ acked: 3, pending: 1, state: "sending", lastError: null }), {
    recorded: "3",
    pending: "1",
    state: "sending",
    title: "Recorder: sending",
  });
  const failing = act.recBadge({ state: "backoff", lastError: { status: 503, message: "busy" } });
  assert.deepEqual([failing.recorded, failing.pending], ["0", "0"]);
  assert.equal(failing.title, "Recorder: backoff; last error 503 busy");
});

test("the seed: loading, loaded, its notice and what the debug hook says", () => {
  let s = act.seedLoading(fresh(), "old");
  assert.equal(s.status.text, "Loading session old…");
  assert.equal(act.controls(s).connect, false, "no connect while the seed loads");
  assert.deepEqual(act.seedDebug(s), { state: "loading" });
  assert.equal(
    act.seedFailed(s, { id: "old" }, new Error("HTTP 404")).status.text,
    "Could not seed from session old: HTTP 404",
  );
  const fetch = async () => ({ ok: true });
  const seed = createSeed({ id: "old", conversation: true, session: {}, items: [{}, {}] }, { fetch });
  s = act.seedLoaded(s, { params: { id: "old", conversation: true }, seed, formBefore: { voice: "marin" } });
  assert.equal(s.status.text, "Seeded from session old: Connect to start from its config and conversation.");
  assert.equal(act.controls(s).connect, true);
  assert.deepEqual(s.formBeforeSeed, { voice: "marin" });
  assert.deepEqual(act.seedDebug(s), { id: "old", state: "ready", items: 2, sessionId: null });
  assert.deepEqual(act.seedNotice(seed), {
    hidden: false,
    text: "Seeded from session",
    id: "old",
    href: "/sessions/old",
    items: " with its conversation (2 items)",
    state: "ready",
    title: "The next Connect uses this recorded config with its conversation (2 items).",
  });
  seed.attach("new");
  assert.equal(act.seedNotice(seed).text, "Session new seeded from session");
  assert.equal(act.seedItemsSent(s, 2).status.text, "Sent the 2 seeded conversation items.");
  assert.equal(act.seedItemsSent(s, 1).status.text, "Sent the 1 seeded conversation item.");
  s = act.seedCleared(s);
  assert.equal(act.seedDebug(s), null);
  assert.deepEqual(act.seedNotice(null), { hidden: true });
});

test("a used seed leaves the address", () => {
  assert.equal(act.withoutSeed("http://h/?seed=abc&conversation=1"), "http://h/");
  assert.equal(act.withoutSeed("http://h/?x=1&seed=abc"), "http://h/?x=1");
  assert.equal(act.withoutSeed("http://h/?x=1"), null);
});

/** A call that connected: every part up, the data channel open. */
function liveCall() {
  let s = act.phaseChanged(fresh(), "connecting");
  for (const [c, v] of [
    ["ice", "connected"],
    ["peer", "connected"],
    ["channel", "open"],
  ])
    s = act.chipChanged(s, c, v);
  return act.phaseChanged(s, "open", { connectMs: 300 });
}

test("one connection state from ICE, peer and channel: the inputs follow it, the status line says it", () => {
  let s = liveCall();
  assert.deepEqual(act.connection(s), { state: "connected", canSend: true, why: "" });
  // ICE loses contact while the channel still reads "open": nothing can be sent, and the page says so.
  s = act.chipChanged(s, "ice", "disconnected");
  assert.deepEqual(act.connection(s), { state: "interrupted", canSend: false, why: "ICE disconnected" });
  assert.equal(act.controls(s).talk, false);
  assert.equal(act.controls(s).apply, false);
  assert.equal(act.controls(s).disconnect, true);
  assert.equal(s.status.kind, "error");
  assert.match(s.status.text, /interrupted \(ICE disconnected\): nothing can be sent/);
  assert.doesNotMatch(s.status.text, /Connected/);
  // It comes back.
  const back = act.chipChanged(s, "ice", "connected");
  assert.equal(act.connection(back).state, "connected");
  assert.deepEqual(back.status, { text: "The connection recovered.", kind: "ok" });
  // Or the peer fails, the channel never says so: the call is lost all the same.
  s = act.chipChanged(act.chipChanged(s, "peer", "disconnected"), "peer", "failed");
  assert.deepEqual(act.connection(s), { state: "lost", canSend: false, why: "ICE disconnected, peer failed" });
  assert.match(s.status.text, /lost \(ICE disconnected, peer failed\)/);
  s = act.phaseChanged(s, "closed-remote");
  assert.equal(act.connection(s).state, "lost");
  assert.match(s.status.text, /ended on the other side \(ICE disconnected, peer failed\)/);
  assert.equal(act.connection(act.phaseChanged(s, "idle")).state, "idle");
  // A channel that closes on its own ends it too.
  assert.equal(act.connection(act.chipChanged(liveCall(), "channel", "closed")).state, "lost");
});

test("the recorder's note: nothing while it keeps up, else what it does with how many events", () => {
  const ok = { state: "idle", pending: 0, consecutiveFailures: 0, lastError: null, retryAt: null };
  assert.equal(act.recNote(null), "");
  assert.equal(act.recNote(ok), "");
  assert.equal(act.recNote({ ...ok, state: "waiting", pending: 3 }), "", "a batch on its way is normal");
  const clock = (ms) => `T${ms}`;
  const down = { state: "backoff", pending: 12, consecutiveFailures: 2, lastError: { status: 0 }, retryAt: 5000 };
  assert.equal(
    act.recNote(down, clock),
    "The recorder cannot store events (the server is unreachable): 12 events pending, next retry at T5000.",
  );
  assert.equal(
    act.recNote({ ...down, state: "sending" }, clock),
    "The recorder is retrying (the server is unreachable): 12 events pending.",
  );
  assert.equal(
    act.recNote({ ...down, state: "halted", pending: 1, lastError: { status: 400, message: "bad seq" } }, clock),
    "The recorder stopped (HTTP 400: bad seq): 1 event pending, kept in this tab; nothing is retried.",
  );
});

test("push-to-talk asks for the answer only once the server committed the audio", () => {
  const commit = { type: "input_audio_buffer.commit", event_id: "evt_c1" };
  let s = act.commitSent(liveCall(), commit);
  assert.equal(s.pendingCommit, "evt_c1");
  assert.equal(act.commitAnswered(s, { type: "input_audio_buffer.speech_started" }).state, s);
  assert.equal(act.commitAnswered(s, { type: "error", error: { event_id: "other" } }).events, undefined);
  const ok = act.commitAnswered(s, { type: "input_audio_buffer.committed", item_id: "item_1" });
  assert.deepEqual(
    ok.events.map((e) => e.type),
    ["response.create"],
  );
  assert.equal(ok.state.pendingCommit, null);
  assert.equal(act.commitAnswered(ok.state, { type: "input_audio_buffer.committed" }).events, undefined, "once");
  // Refused: no answer, and the status line says why.
  const refused = act.commitAnswered(s, {
    type: "error",
    error: { code: "input_audio_buffer_commit_empty", message: "buffer too small", event_id: "evt_c1" },
  });
  assert.equal(refused.events, undefined);
  assert.equal(refused.state.pendingCommit, null);
  assert.deepEqual(refused.state.status, {
    text: "The server refused the commit, so no answer was asked for: buffer too small",
    kind: "error",
  });
  assert.equal(act.phaseChanged(s, "connecting").pendingCommit, null, "a new call forgets it");
});
