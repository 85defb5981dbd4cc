// The live console page's controller. The page's state is one object (console/state.js, where the pure
// actions on it are); the components get it through their `update`/`set…` calls and report what the user
// does as CustomEvents; the connection (console/live.js) reports through callbacks. This module only
// wires: event → action → `set(next)` → render, plus the effects an action asks for. Every entry the
// page shows is the entry the recorder stores.

import { mount as mountLog } from "/static/js/components/log-panel.js";
import { mount as mountMetrics } from "/static/js/components/metrics-view.js";
import { mount as mountTranscript } from "/static/js/components/transcript-view.js";
import { openMic } from "./console/audio.js";
import { mountAudioRecording } from "./console/audio-rec.js";
import { interrupt, pttPress, pttRelease, userText } from "./console/commands.js";
import { itemIdOf } from "./console/composer.js";
import { mount as mountComposer } from "./console/composer-panel.js";
import { mount as mountConfig } from "./console/config-editor.js";
import { compareSession } from "./console/effective.js";
import { mount as mountEffective } from "./console/effective-session.js";
import { mount as mountViewCode } from "./console/view-code.js";
import { createLive, resumeLeftovers } from "./console/live.js";
import { mount as mountMic } from "./console/mic.js";
import { createPresets } from "./console/presets.js";
import { mount as mountPresets } from "./console/presets-bar.js";
import { createSeed, seedParams, stripOverrides, useAllowedOverrides } from "./console/seed.js";
import { mount as mountSeedNotice } from "./console/seed-notice.js";
import { manualTurns, sessionToForm } from "./console/session-config.js";
import { mount as mountSessionBar } from "./console/session-bar.js";
import * as act from "./console/state.js";
import { mount as mountTalk } from "./console/talk.js";
import { mount as mountTools } from "./console/tools-panel.js";
import { loadSeed } from "./library/seed.js";

const $ = (id) => document.getElementById(id);
const root = $("console");
// The server's override allow-list, which a seeded config is cut to.
useAllowedOverrides(JSON.parse(root.dataset.allowedOverrides || "{}"));

function safeStorage(name) {
  try {
    return window[name];
  } catch {
    return undefined;
  }
}
const local = safeStorage("localStorage");
const presets = createPresets(local || { getItem: () => null, setItem: () => {} });

// ---- the state, in one place ----
let state = act.initialState(presets.last());

/** Swaps in the next state and shows it (nothing to do when an action changed nothing). */
function set(next) {
  if (next === state) return;
  state = next;
  render();
}
const status = (text, kind) => set(act.withStatus(state, text, kind));

// ---- components ----
const logEl = $("log");
const log = mountLog(logEl, {});
const transcript = mountTranscript($("transcript"));
const metrics = mountMetrics($("metrics"), {
  storage: local,
  storageKey: "realtime-console.prices",
  model: root.dataset.model,
});
const bar = mountSessionBar(root.querySelector(".bar"));
const editor = mountConfig($("config-form"), { initial: act.initialForm(presets.last()) });
const tools = mountTools($("tools-panel"));
const viewCode = mountViewCode($("view-code"), { baseUrl: `${location.origin}/v1` });
const effective = mountEffective($("effective"), {
  source: $("effective-source"),
  fields: $("effective-fields"),
  json: $("effective-json"),
});
const presetsBar = mountPresets(root, {
  list: $("preset-list"),
  load: $("preset-load"),
  save: $("preset-save"),
  remove: $("preset-delete"),
  dialog: $("preset-dialog"),
});
const seedNotice = mountSeedNotice($("seed-notice"), {
  text: $("seed-text"),
  link: $("seed-link"),
  items: $("seed-items"),
  clear: $("seed-clear"),
});
const talk = mountTalk(root, {
  form: $("text-form"),
  input: $("text-input"),
  send: $("text-send"),
  interrupt: $("interrupt"),
  file: $("image-input"),
  chip: $("image-chip"),
  chipName: $("image-name"),
  chipRemove: $("image-remove"),
  onProblem: (message) => status(message, "error"),
});
const composer = mountComposer(root, {
  template: $("composer-template"),
  text: $("composer-text"),
  send: $("composer-send"),
  note: $("composer-note"),
});
const mic = mountMic(root, {
  device: $("mic-device"),
  mute: $("mute"),
  ptt: $("ptt"),
  meterIn: $("meter-in"),
  meterOut: $("meter-out"),
});

const audioRec = mountAudioRecording({
  input: $("record-audio"),
  text: $("rec-audio"),
  storage: local,
  fetch: window.fetch.bind(window),
});

let shownStatus = state.status; // the page opens with an empty status line
let shownEffective = null;

/** The server's session beside the form, and the form's fields marked where the two differ. */
function showEffective() {
  shownEffective = state.effective;
  const eff = state.effective;
  showCode();
  const serverTools = eff && Array.isArray(eff.session?.tools) ? eff.session.tools.map((t) => t?.name) : null;
  tools.setServerTools(serverTools);
  if (!eff) {
    effective.show(null);
    editor.markDiffering([]);
    return;
  }
  const rows = compareSession(editor.current().session, eff.session);
  effective.show({ ...eff, rows });
  editor.markDiffering(rows);
}
function render() {
  const c = act.controls(state);
  const conn = act.connection(state);
  bar.update({
    controls: c,
    conn,
    chips: state.chips,
    session: state.session,
    rec: state.rec && act.recBadge(state.rec),
  });
  talk.setEnabled(c.talk);
  mic.setEnabled(c.talk);
  composer.setEnabled(c.talk);
  editor.setApplyEnabled(c.apply);
  editor.showResult(act.configResult(state.update));
  if (state.effective !== shownEffective) showEffective();
  seedNotice.update(act.seedNotice(state.seed));
  root.dataset.phase = state.phase;
  if (state.session.id) root.dataset.sessionId = state.session.id;
  // The status line is a live region: only a new message is written (and announced).
  if (state.status !== shownStatus) {
    shownStatus = state.status;
    $("status").textContent = state.status.text;
    $("status").dataset.kind = state.status.kind;
  }
  const note = act.recNote(state.rec);
  if ($("rec-note").textContent !== note) $("rec-note").textContent = note;
  root.dataset.connection = conn.state;
}

function showEntry(entry) {
  log.add(entry);
  transcript.add(entry);
  metrics.add(entry);
  logEl.dataset.entries = String(log.count().entries);
}

// ---- the connection ----
const live = createLive({
  audioEl: $("remote-audio"),
  storage: safeStorage("sessionStorage"),
  onEntry: showEntry,
  onState: (component, value) => set(act.chipChanged(state, component, value)),
  onRecStats: (stats) => set({ ...state, rec: stats }),
  onCall: handleCall,
  onServerEvent: (event, seq) => {
    set(act.serverEvent(state, event, seq));
    const { state: next, events } = act.commitAnswered(state, event);
    set(next);
    if (events) live.send(events);
    if (event.type === "session.created") sendSeedItems();
    const itemId = itemIdOf(event);
    if (itemId) composer.setContext({ itemId });
  },
  onError: (message) => status(message, "error"),
  getMicTrack: async () => {
    const track = await openMic(mic.deviceId());
    mic.setTrack(track);
    audioRec.setMic(track);
    return track;
  },
  onPhase,
});

function onPhase(phase, info) {
  if (phase === "connecting") {
    // A seed serves one connection: the one after it starts from the form alone.
    if (state.seed?.used()) clearSeed(false);
    for (const v of [log, transcript, metrics]) v.clear();
    logEl.dataset.entries = "0";
    composer.setContext({});
  }
  set(act.phaseChanged(state, phase, info));
  if (phase === "session") audioRec.begin(info.sessionId);
  else if (phase === "track") audioRec.setRemote(info.stream);
  else if (phase === "idle" || phase === "closed-remote") audioRec.end();
  if (phase === "session" && state.seed && !state.seed.used()) {
    state.seed.attach(info.sessionId).then(render);
    forgetSeedUrl();
  } else if (phase === "track") {
    mic.setRemote(info.stream);
  } else if (phase === "open") {
    talk.focus();
  } else if (phase === "idle") {
    mic.stop();
  }
}

root.addEventListener("session-connect", (e) => {
  const { state: next, connect } = act.connectRequested(state, editor.current(), e.detail.flow);
  set(next);
  if (connect) live.connect(connect);
});
root.addEventListener("session-disconnect", () => live.disconnect());
root.addEventListener("talk-text", (e) => {
  sendSeedItems();
  if (live.send(userText(e.detail.text, e.detail.images))) talk.sent();
});
root.addEventListener("composer-send", (e) => {
  // The page's one send path: journaled, recorded and shown like every client event.
  if (live.send([e.detail.event])) composer.sent(e.detail.event);
  else composer.refused(`${e.detail.event.type} not sent: the connection is down.`);
});
root.addEventListener("talk-interrupt", () => live.send(interrupt(live.responseActive())));
root.addEventListener("ptt", (e) => {
  sendSeedItems();
  const manual = manualTurns(editor.current().form);
  const events = e.detail.down ? pttPress(manual) : pttRelease(manual);
  if (live.send(events) && manual && !e.detail.down) set(act.commitSent(state, events[0]));
});
root.addEventListener("mic-device", async (e) => {
  const c = live.connection();
  if (!c) return;
  try {
    const track = await openMic(e.detail.deviceId);
    await c.replaceTrack(track);
    if (c.micTrack) c.micTrack.stop();
    c.micTrack = track;
    mic.setTrack(track);
    audioRec.setMic(track);
  } catch (err) {
    status(`Could not switch the microphone: ${err.message || err}`, "error");
  }
});

/** View code: the server's session once there is one, the form's before. */
function showCode() {
  const eff = state.effective;
  if (eff) viewCode.show({ session: eff.session, source: `The server's session (${eff.type} #${eff.seq}).` });
  else {
    const { session } = editor.current();
    if (session) viewCode.show({ session, source: "The form's session (not connected)." });
  }
}

// ---- session config, tools, presets ----
function configChanged() {
  const { form, errors } = editor.current();
  const list = act.toolsOf(form);
  if (list) tools.setTools(list, state.mocks);
  presets.remember({ form, mocks: state.mocks });
  set(state.configValid === !errors.length ? state : { ...state, configValid: !errors.length });
  if (state.effective) showEffective();
  else showCode();
  mic.setPttOnly(manualTurns(form));
}

/** Applies a tools action's result: the state first (its mocks), then the list into the form. */
function toolsChanged({ state: next, tools: list }) {
  set(next);
  if (list) editor.set({ ...editor.current().form, tools: JSON.stringify(list, null, 2) });
}

root.addEventListener("config-change", configChanged);
showCode();
root.addEventListener("log-reveal", (e) => log.reveal(e.detail.seq));
root.addEventListener("config-reset", () => editor.set(act.defaultConfig()));
root.addEventListener("config-apply", (e) => {
  const { state: next, events } = act.applyRequested(state, e.detail);
  set(next);
  if (events && live.send(events)) set(act.updateSent(state, events[0]));
});
const toolsOfForm = () => act.toolsOf(editor.current().form);
root.addEventListener("tool-toggle", (e) => toolsChanged(act.toolToggled(state, toolsOfForm(), e.detail)));
root.addEventListener("tool-add", (e) => toolsChanged(act.toolAdded(state, toolsOfForm(), e.detail)));
root.addEventListener("tool-remove", (e) => toolsChanged(act.toolRemoved(state, toolsOfForm(), e.detail)));
root.addEventListener("call-output", (e) => {
  const { call_id: callId, output } = e.detail;
  live.coordinator.resolve(callId, output);
  tools.removePending(callId);
  const { state: next, name } = act.callAnswered(state, callId);
  set(next);
  tools.noteCall({ name }, output);
});

function handleCall(call, coordinator) {
  const { state: next, output, palette } = act.callArrived(state, call);
  set(next);
  if (palette) tools.showPalette(palette);
  if (output === undefined) return tools.addPending(call);
  tools.noteCall(call, output);
  coordinator.resolve(call.call_id, output);
}

root.addEventListener("preset-save", (e) => {
  const name = e.detail.name;
  presets.save(name, { form: editor.current().form, mocks: state.mocks });
  presetsBar.update(presets.names(), name.trim());
  status(`Saved preset “${name.trim()}”.`);
});
root.addEventListener("preset-load", (e) => {
  const preset = presets.get(e.detail.name);
  if (!preset) return;
  set(act.presetLoaded(state, e.detail.name, preset, live.isOpen()));
  editor.set(preset.form);
});
root.addEventListener("preset-delete", (e) => {
  presets.remove(e.detail.name);
  presetsBar.update(presets.names());
});

// ---- "Open in console": /?seed=<id>[&conversation=1] ----
/** Drops the seed; `restore` also puts back the config the page had before it. */
function clearSeed(restore) {
  const before = state.formBeforeSeed;
  set(act.seedCleared(state));
  if (restore && before) editor.set(before);
  forgetSeedUrl();
}

/** Takes `seed` out of the address, so a reload does not seed again. */
function forgetSeedUrl() {
  const url = act.withoutSeed(window.location.href);
  if (url) window.history.replaceState(null, "", url);
}

/** Sends the seed's conversation items (once) before anything the user says. */
function sendSeedItems() {
  if (!state.seed || !live.isOpen()) return;
  const events = state.seed.take();
  if (events.length && live.send(events)) set(act.seedItemsSent(state, events.length));
  render();
}

async function startSeed(params) {
  set(act.seedLoading(state, params.id));
  try {
    const loaded = await loadSeed(params.id);
    const session = stripOverrides(loaded.session);
    const formBefore = editor.current().form;
    editor.set(sessionToForm(session));
    const seed = createSeed(
      { id: params.id, conversation: params.conversation, session, items: loaded.items },
      { fetch: window.fetch.bind(window), onError: (message) => status(message, "error") },
    );
    set(act.seedLoaded(state, { params, seed, formBefore }));
  } catch (e) {
    set(act.seedFailed(state, params, e));
  }
}

root.addEventListener("seed-clear", () => clearSeed(!live.isOpen()));

// ---- start ----
window.addEventListener("pagehide", () => live.unload());
resumeLeftovers(safeStorage("sessionStorage"))
  .then((n) => set(act.leftoversStatus(state, n)))
  .catch(() => {});
presetsBar.update(presets.names());
configChanged();
render();
const params = seedParams(window.location.search);
if (params) startSeed(params);

// For the browser tests and for poking at the page from the devtools console.
window.consoleDebug = Object.freeze({
  entries: () =>
    live
      .journal()
      .entries()
      .map(({ seq, ts, direction, event }) => ({ seq, ts, direction, event })),
  logCount: () => log.count(),
  recorder: () => live.recorder()?.stats() ?? null,
  /** The audio uploader's stats (lib/audio-upload.js) and `recording`, or null before a recorded call. */
  audio: () => audioRec.stats(),
  /** The call's microphone track (null when there is none). */
  micTrack: () => live.connection()?.micTrack ?? null,
  /** The model's audio as received (getStats' inbound-rtp audio: jitter buffer, concealment), or null. */
  inboundAudio: async () => {
    const stats = await live.connection()?.pc.getStats();
    return [...(stats?.values() ?? [])].find((s) => s.type === "inbound-rtp" && s.kind === "audio") ?? null;
  },
  sessionId: () => live.sessionId(),
  finished: () => live.finished(),
  timings: () => ({ ...live.timings }),
  phase: () => state.phase,
  /** The call's one state (console/state.js connection()). */
  connection: () => act.connection(state).state,
  /** The "Open in console" seed: null, or {id, state: "loading"|"ready"|"attached"|"sent", items}. */
  seed: () => act.seedDebug(state),
  /** Selects the log row of `seq`, so its JSON shows. */
  reveal: (seq) => log.reveal(seq),
});
