// The live console page: wires the connection (console/live.js), the session config editor, presets,
// the tools panel, the microphone controls and the shared views (event log, transcript, usage and
// latency) together. Every entry the page shows is the entry the recorder stores.

import { mount as mountLog } from '/static/js/components/log-panel.js';
import { mount as mountMetrics } from '/static/js/components/metrics-view.js';
import { mount as mountTranscript } from '/static/js/components/transcript-view.js';
import { openMic } from './console/audio.js';
import { interrupt, pttPress, pttRelease, sessionUpdate, userText } from './console/commands.js';
import { mount as mountConfig } from './console/config-editor.js';
import { createLive, resumeLeftovers } from './console/live.js';
import { mount as mountMic } from './console/mic.js';
import { createPresets } from './console/presets.js';
import { createSeed, seedParams, stripOverrides } from './console/seed.js';
import { defaultForm, manualTurns, sessionToForm } from './console/session-config.js';
import { mount as mountTools } from './console/tools-panel.js';
import { BUILTIN_TOOLS, handlerFor, paletteOf, runBuiltin, withTool, withoutTool } from './console/tools.js';
import { loadSeed } from './library/seed.js';

const $ = (id) => document.getElementById(id);
const root = $('console');

function safeStorage(name) {
  try {
    return window[name];
  } catch {
    return undefined;
  }
}
const local = safeStorage('localStorage');
const presets = createPresets(local || { getItem: () => null, setItem: () => {} });

// --- views -----------------------------------------------------------------------------------------
const logEl = $('log');
const log = mountLog(logEl, {});
const transcript = mountTranscript($('transcript'));
const metrics = mountMetrics($('metrics'), { storage: local, storageKey: 'realtime-console.prices', model: root.dataset.model });

function showEntry(entry) {
  log.add(entry);
  transcript.add(entry);
  metrics.add(entry);
  logEl.dataset.entries = String(log.count().entries);
}

$('transcript').addEventListener('transcript:select', (e) => log.reveal(e.detail.seq));
$('metrics').addEventListener('metrics:select', (e) => log.reveal(e.detail.seq));

// --- status line -----------------------------------------------------------------------------------
const statusEl = $('status');
function status(text, kind = 'info') {
  statusEl.textContent = text;
  statusEl.dataset.kind = kind;
}

function showState(component, state) {
  const chip = $(`state-${component}`);
  if (!chip) return;
  chip.dataset.state = state;
  chip.querySelector('b').textContent = state;
}

function showRec(stats) {
  const el = $('rec');
  $('rec-recorded').textContent = String(stats.acked ?? 0);
  $('rec-pending').textContent = String(stats.pending ?? 0);
  el.dataset.state = stats.state;
  el.title = stats.lastError
    ? `Recorder: ${stats.state}; last error ${stats.lastError.status || ''} ${stats.lastError.message || ''}`
    : `Recorder: ${stats.state}`;
}

// --- config, presets, tools ------------------------------------------------------------------------
const LAST_KEY_MOCKS = 'mocks';
let mocks = {};

function initialForm() {
  const last = presets.last();
  if (last?.form) {
    mocks = last[LAST_KEY_MOCKS] || {};
    return last.form;
  }
  return { ...defaultForm(), tools: JSON.stringify(BUILTIN_TOOLS, null, 2) };
}

const editor = mountConfig($('config-form'), { initial: initialForm() });
const tools = mountTools($('tools-panel'));

function currentTools() {
  try {
    const t = JSON.parse(editor.current().form.tools || '[]');
    return Array.isArray(t) ? t : null;
  } catch {
    return null;
  }
}

function setTools(list) {
  editor.set({ ...editor.current().form, tools: JSON.stringify(list, null, 2) });
}

function configChanged() {
  const { form, errors } = editor.current();
  const list = currentTools();
  if (list) tools.setTools(list, mocks);
  presets.remember({ form, [LAST_KEY_MOCKS]: mocks });
  $('config-apply').disabled = !live.isOpen() || errors.length > 0;
  mic.setPttOnly(manualTurns(form));
}

$('config-form').addEventListener('config-change', configChanged);
$('config-reset').addEventListener('click', () => editor.set({ ...defaultForm(), tools: JSON.stringify(BUILTIN_TOOLS, null, 2) }));

const toolsEl = $('tools-panel');
toolsEl.addEventListener('tool-toggle', (e) => {
  const list = currentTools();
  if (!list) return status('Fix the tools JSON first.', 'error');
  const def = BUILTIN_TOOLS.find((t) => t.name === e.detail.name);
  setTools(e.detail.on ? withTool(list, def) : withoutTool(list, e.detail.name));
});
toolsEl.addEventListener('tool-add', (e) => {
  const list = currentTools();
  if (!list) return status('Fix the tools JSON first.', 'error');
  mocks = { ...mocks, [e.detail.tool.name]: e.detail.mock };
  setTools(withTool(list, e.detail.tool));
});
toolsEl.addEventListener('tool-remove', (e) => {
  const list = currentTools();
  if (!list) return;
  const { [e.detail.name]: _gone, ...rest } = mocks;
  mocks = rest;
  setTools(withoutTool(list, e.detail.name));
});
toolsEl.addEventListener('call-output', (e) => {
  live.coordinator.resolve(e.detail.call_id, e.detail.output);
  tools.removePending(e.detail.call_id);
  tools.noteCall({ name: pendingNames.get(e.detail.call_id) || '?' }, e.detail.output);
});

const pendingNames = new Map();
function handleCall(call, coordinator) {
  const how = handlerFor(call.name, mocks);
  if (how.kind === 'builtin') {
    if (call.name === 'display_color_palette') tools.showPalette(paletteOf(call.arguments));
    const output = JSON.stringify(runBuiltin(call.name, call.arguments));
    tools.noteCall(call, output);
    coordinator.resolve(call.call_id, output);
  } else if (how.kind === 'mock') {
    tools.noteCall(call, how.output);
    coordinator.resolve(call.call_id, how.output);
  } else {
    pendingNames.set(call.call_id, call.name);
    tools.addPending(call);
    status(`The model called ${call.name}: type its output in the Tools panel.`, 'info');
  }
}

function refreshPresetList(select) {
  const list = $('preset-list');
  list.replaceChildren(new Option('presets…', ''), ...presets.names().map((n) => new Option(n, n)));
  if (select) list.value = select;
}
refreshPresetList();
$('preset-save').addEventListener('click', () => {
  const name = window.prompt('Save the session config as', $('preset-list').value || '');
  if (!name) return;
  presets.save(name, { form: editor.current().form, [LAST_KEY_MOCKS]: mocks });
  refreshPresetList(name.trim());
  status(`Saved preset “${name.trim()}”.`);
});
$('preset-load').addEventListener('click', () => {
  const name = $('preset-list').value;
  const p = name && presets.get(name);
  if (!p) return;
  mocks = p[LAST_KEY_MOCKS] || {};
  editor.set(p.form);
  status(`Loaded preset “${name}”${live.isOpen() ? ' — Apply sends it to the live session' : ''}.`);
});
$('preset-delete').addEventListener('click', () => {
  const name = $('preset-list').value;
  if (!name) return;
  presets.remove(name);
  refreshPresetList();
});

// --- microphone ------------------------------------------------------------------------------------
const mic = mountMic(root, {
  device: $('mic-device'),
  mute: $('mute'),
  ptt: $('ptt'),
  meterIn: $('meter-in'),
  meterOut: $('meter-out'),
});
root.addEventListener('ptt', (e) => {
  sendSeedItems();
  const manual = manualTurns(editor.current().form);
  live.send(e.detail.down ? pttPress(manual) : pttRelease(manual));
});
root.addEventListener('mic-device', async (e) => {
  const c = live.connection();
  if (!c) return;
  try {
    const track = await openMic(e.detail.deviceId);
    await c.replaceTrack(track);
    if (c.micTrack) c.micTrack.stop();
    c.micTrack = track;
    mic.setTrack(track);
  } catch (err) {
    status(`Could not switch the microphone: ${err.message || err}`, 'error');
  }
});

// --- the live session ------------------------------------------------------------------------------
function setConnected(phase) {
  const open = phase === 'open';
  const busy = phase !== 'idle';
  $('connect').disabled = busy;
  $('flow').disabled = busy;
  $('disconnect').disabled = !busy;
  for (const id of ['text-input', 'text-send', 'interrupt']) $(id).disabled = !open;
  mic.setEnabled(open);
  $('config-apply').disabled = !open || editor.current().errors.length > 0;
  root.dataset.phase = phase;
}

const live = createLive({
  audioEl: $('remote-audio'),
  storage: safeStorage('sessionStorage'),
  onEntry: showEntry,
  onState: showState,
  onRecStats: showRec,
  onCall: handleCall,
  onServerEvent: (event) => {
    if (event.type === 'error') status(`Server error: ${event.error?.message || 'unknown'}`, 'error');
    if (event.type === 'session.created') sendSeedItems();
  },
  onError: (message) => status(message, 'error'),
  getMicTrack: async () => {
    const track = await openMic(mic.deviceId());
    mic.setTrack(track);
    return track;
  },
  onPhase: (phase, info) => {
    if (phase === 'connecting') {
      // A seed serves one connection: the one after it starts from the form alone.
      if (seed?.used()) clearSeed(false);
      for (const v of [log, transcript, metrics]) v.clear();
      logEl.dataset.entries = '0';
      showState('ice', 'new');
      showState('peer', 'new');
      showState('channel', 'connecting');
      $('session-id').textContent = '…';
      setConnected('connecting');
      status('Connecting…');
    } else if (phase === 'session') {
      $('session-id').textContent = info.sessionId;
      $('session-link').href = `/sessions/${encodeURIComponent(info.sessionId)}`;
      root.dataset.sessionId = info.sessionId;
      if (seed && !seed.used()) {
        seed.attach(info.sessionId).then(showSeed);
        forgetSeedUrl();
      }
    } else if (phase === 'track') {
      mic.setRemote(info.stream);
    } else if (phase === 'open') {
      setConnected('open');
      status(`Connected in ${Math.round(info.connectMs)} ms (click → data channel open).`, 'ok');
      $('text-input').focus();
    } else if (phase === 'closed-remote') {
      setConnected('ended');
      status('The call ended on the other side. Disconnect to close the session.', 'error');
    } else if (phase === 'idle') {
      setConnected('idle');
      mic.stop();
      for (const c of ['ice', 'peer']) if ($(`state-${c}`).dataset.state !== 'failed') showState(c, 'closed');
      showState('channel', 'closed');
      if (info.error) status(`Connect failed: ${info.error}`, 'error');
      else status('Disconnected.');
    }
  },
});

$('connect').addEventListener('click', () => {
  const { session, errors } = editor.current();
  if (errors.length) return status(`Fix the session config: ${errors[0].message}`, 'error');
  live.connect({ flow: $('flow').value, session: seed && !seed.used() ? seed.overrides(session) : session });
});
$('disconnect').addEventListener('click', () => live.disconnect());
$('interrupt').addEventListener('click', () => live.send(interrupt(live.responseActive())));
$('config-apply').addEventListener('click', () => {
  const { session, errors } = editor.current();
  if (errors.length) return status(`Fix the session config: ${errors[0].message}`, 'error');
  if (live.send([sessionUpdate(session)])) status('Sent session.update.');
});
$('text-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('text-input');
  const text = input.value.trim();
  if (!text) return;
  sendSeedItems();
  if (live.send(userText(text))) input.value = '';
});

// --- "Open in console": /?seed=<id>[&conversation=1] ------------------------------------------------
let seed = null;
let seedLoading = false;
let formBeforeSeed = null;

function showSeed() {
  const notice = $('seed-notice');
  notice.hidden = !seed;
  if (!seed) return;
  const n = seed.items.length;
  const items = seed.conversation ? ` with its conversation (${n} item${n === 1 ? '' : 's'})` : '';
  $('seed-text').textContent = seed.used() && seed.sessionId() ? `Session ${seed.sessionId()} seeded from session` : 'Seeded from session';
  $('seed-link').textContent = seed.id;
  $('seed-link').href = `/sessions/${encodeURIComponent(seed.id)}`;
  $('seed-items').textContent = items;
  notice.dataset.state = seed.state();
  notice.title = `The next Connect uses this recorded config${items}.`;
}

/** Drops the seed; `restore` also puts back the config the page had before it. */
function clearSeed(restore) {
  seed = null;
  if (restore && formBeforeSeed) editor.set(formBeforeSeed);
  formBeforeSeed = null;
  forgetSeedUrl();
  showSeed();
}

/** Takes `seed` out of the address, so a reload does not seed again. */
function forgetSeedUrl() {
  const url = new URL(window.location.href);
  if (!url.searchParams.has('seed')) return;
  url.searchParams.delete('seed');
  url.searchParams.delete('conversation');
  window.history.replaceState(null, '', url);
}
$('seed-clear').addEventListener('click', () => clearSeed(!live.isOpen()));

/** Sends the seed's conversation items (once) before anything the user says. */
function sendSeedItems() {
  if (!seed || !live.isOpen()) return;
  const events = seed.take();
  if (events.length && live.send(events)) status(`Sent the ${events.length} seeded conversation item${events.length === 1 ? '' : 's'}.`, 'ok');
  showSeed();
}

async function startSeed(params) {
  seedLoading = true;
  $('connect').disabled = true;
  status(`Loading session ${params.id}…`);
  try {
    const loaded = await loadSeed(params.id);
    const session = stripOverrides(loaded.session);
    formBeforeSeed = editor.current().form;
    editor.set(sessionToForm(session));
    seed = createSeed({ id: params.id, conversation: params.conversation, session, items: loaded.items }, {
      fetch: window.fetch.bind(window),
      onError: (message) => status(message, 'error'),
    });
    status(`Seeded from session ${params.id}: Connect to start from its config${params.conversation ? ' and conversation' : ''}.`, 'ok');
  } catch (e) {
    status(`Could not seed from session ${params.id}: ${e.message || e}`, 'error');
  } finally {
    seedLoading = false;
    if (root.dataset.phase === 'idle') $('connect').disabled = false;
    showSeed();
  }
}

window.addEventListener('pagehide', () => live.unload());
resumeLeftovers(safeStorage('sessionStorage')).then((n) => {
  if (n) status(`Stored the events a previous page of this tab had not sent yet (${n} session${n > 1 ? 's' : ''}).`);
}).catch(() => {});
configChanged();
setConnected('idle');
const params = seedParams(window.location.search);
if (params) startSeed(params);

// For the browser tests and for poking at the page from the devtools console.
window.consoleDebug = Object.freeze({
  entries: () => live.journal().entries().map(({ seq, ts, direction, event }) => ({ seq, ts, direction, event })),
  logCount: () => log.count(),
  recorder: () => live.recorder()?.stats() ?? null,
  sessionId: () => live.sessionId(),
  finished: () => live.finished(),
  timings: () => ({ ...live.timings }),
  phase: () => root.dataset.phase,
  /** The "Open in console" seed: null, or {id, state: "loading"|"ready"|"attached"|"sent", items}. */
  seed: () => (seedLoading ? { state: 'loading' } : seed && { id: seed.id, state: seed.state(), items: seed.items.length, sessionId: seed.sessionId() }),
  /** Selects the log row of `seq`, so its JSON shows. */
  reveal: (seq) => log.reveal(seq),
});
