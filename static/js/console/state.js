// The live console page's state, in one object, and the actions on it: pure functions (state, input) →
// the next state, plus what the page must do about it (a tools list to show, an output to send). Also the
// view models its components are given. No DOM and no IO: console.js does the effects.

import { responseCreate, sessionUpdate } from "./commands.js";
import { defaultForm } from "./session-config.js";
import { BUILTIN_TOOLS, handlerFor, paletteOf, runBuiltin, withTool, withoutTool } from "./tools.js";

/** The form a fresh page shows: the API's defaults with the built-in demo tools. */
export function defaultConfig() {
  return { ...defaultForm(), tools: JSON.stringify(BUILTIN_TOOLS, null, 2) };
}

/** The state of a page that just opened; `last` is the config the page remembered (presets.last()). */
export function initialState(last) {
  return {
    phase: "idle", // idle | connecting | open | ended (the call ended on the other side)
    status: { text: "", kind: "info" },
    chips: { ice: "new", peer: "new", channel: "closed" },
    session: { label: "—", id: null }, // the console session shown in the bar
    rec: null, // the recorder's stats, once there is a recorder
    configValid: true,
    mocks: (last?.form && last.mocks) || {}, // the fixed outputs of custom tools, by tool name
    pendingCalls: {}, // call_id → tool name, for calls waiting for the output the user types
    seed: null, // "Open in console": the seed for the next connect (console/seed.js)
    seedLoading: false,
    formBeforeSeed: null, // the config the page had before the seed replaced it
    pendingCommit: null, // push-to-talk: the event_id of the commit whose answer waits for `committed`
    effective: null, // the server's session: {session, type, seq} of the last session.created / session.updated
    update: null, // the last session.update sent: {eventId, outcome: "sent" | "applied" | "refused", seq, message}
  };
}

/** The config form to start with: the one remembered, else the defaults. */
export function initialForm(last) {
  return last?.form ? last.form : defaultConfig();
}

export function withStatus(state, text, kind = "info") {
  return { ...state, status: { text, kind } };
}

/**
 * What is enabled: Connect needs an idle page (and no seed loading); talking and Apply need a call that
 * can carry an event (connection(state).canSend), not only a channel that still reads "open".
 */
export function controls(state) {
  const busy = state.phase !== "idle";
  const send = connection(state).canSend;
  return {
    connect: !busy && !state.seedLoading,
    flow: !busy,
    disconnect: busy,
    talk: send,
    apply: send && state.configValid,
  };
}

// ---- the connection ----

const DOWN = ["disconnected", "failed", "closed"];

/**
 * The call's one state, from the phase and the ICE, peer and channel states together: `idle`,
 * `connecting`, `connected` (everything up: events can be sent), `interrupted` (ICE or the peer lost
 * contact and may yet recover), `lost` (failed or closed: nothing will be sent again). → `{state, canSend,
 * why}`; `why` names the parts that are down ("ICE disconnected, peer failed").
 */
export function connection(state) {
  const { ice, peer, channel } = state.chips;
  const why = [
    DOWN.includes(ice) && `ICE ${ice}`,
    DOWN.includes(peer) && `peer ${peer}`,
    (channel === "closing" || channel === "closed") && `channel ${channel}`,
  ]
    .filter(Boolean)
    .join(", ");
  const of = (name) => ({ state: name, canSend: name === "connected", why });
  if (state.phase === "idle") return of("idle");
  if (state.phase === "connecting") return of("connecting");
  const lost =
    state.phase === "ended" ||
    ["failed", "closed"].includes(ice) ||
    ["failed", "closed"].includes(peer) ||
    channel === "closing" ||
    channel === "closed";
  if (lost) return of("lost");
  if (ice === "disconnected" || peer === "disconnected") return of("interrupted");
  return of(channel === "open" ? "connected" : "connecting");
}

/** What the status line says when a live call's state changes to `next` (null: nothing new to say). */
function connectionStatus(before, next) {
  if (before.state === next.state) return null;
  if (next.state === "interrupted") {
    return {
      text: `The connection is interrupted (${next.why}): nothing can be sent until it recovers.`,
      kind: "error",
    };
  }
  if (next.state === "lost") {
    return {
      text: `The call is lost (${next.why || "ended"}): nothing can be sent. Disconnect to close the session.`,
      kind: "error",
    };
  }
  if (next.state === "connected" && before.state === "interrupted") {
    return { text: "The connection recovered.", kind: "ok" };
  }
  return null;
}

/** A connection state (`ice`, `peer`, `channel`) changed; a live call's status line follows it. */
export function chipChanged(state, component, value) {
  if (!(component in state.chips) || state.chips[component] === value) return state;
  const next = { ...state, chips: { ...state.chips, [component]: value } };
  if (state.phase !== "open" && state.phase !== "ended") return next;
  const said = connectionStatus(connection(state), connection(next));
  return said ? { ...next, status: said } : next;
}

/** console/live.js reports a phase: `connecting`, `session`, `track`, `open`, `closed-remote`, `idle`. */
export function phaseChanged(state, phase, info = {}) {
  switch (phase) {
    case "connecting":
      return {
        ...withStatus(state, "Connecting…"),
        phase: "connecting",
        chips: { ice: "new", peer: "new", channel: "connecting" },
        session: { ...state.session, label: "…" },
        pendingCommit: null,
        effective: null,
        update: null,
      };
    case "session":
      return { ...state, session: { label: info.sessionId, id: info.sessionId } };
    case "open":
      return {
        ...withStatus(state, `Connected in ${Math.round(info.connectMs)} ms (click → data channel open).`, "ok"),
        phase: "open",
      };
    case "closed-remote": {
      const { why } = connection(state);
      const text = `The call ended on the other side${why ? ` (${why})` : ""}. Disconnect to close the session.`;
      return { ...withStatus(state, text, "error"), phase: "ended" };
    }
    case "idle": {
      // A failed ICE or peer state stays on show: it says why the call ended.
      const closed = (c) => (state.chips[c] === "failed" ? "failed" : "closed");
      const next = info.error
        ? withStatus(state, `Connect failed: ${info.error}`, "error")
        : withStatus(state, "Disconnected.");
      return { ...next, phase: "idle", chips: { ice: closed("ice"), peer: closed("peer"), channel: "closed" } };
    }
    default:
      return state;
  }
}

/** Connect was clicked with the editor's `{session, errors}`: → `{state}` or `{state, connect: {flow, session}}`. */
export function connectRequested(state, { session, errors }, flow) {
  if (errors.length) return { state: withStatus(state, `Fix the session config: ${errors[0].message}`, "error") };
  const seeded = state.seed && !state.seed.used();
  return { state, connect: { flow, session: seeded ? state.seed.overrides(session) : session } };
}

/** Apply was clicked: → `{state}` or `{state, events}` (the session.update to send). */
export function applyRequested(state, { session, errors }) {
  if (errors.length) return { state: withStatus(state, `Fix the session config: ${errors[0].message}`, "error") };
  return { state, events: [sessionUpdate(session)] };
}

/** The session.update `event` went out: "applied" waits for the server's `session.updated`. */
export function updateSent(state, event) {
  const next = withStatus(state, "Sent session.update; waiting for the server's session.updated…");
  return { ...next, update: { eventId: event.event_id, outcome: "sent", seq: null, message: null } };
}

/**
 * A server event (`seq`: its entry's): `session.created` / `session.updated` become the effective session
 * and `session.updated` confirms a session.update sent; an `error` shows in the status line, and one that
 * names the session.update sent refuses it.
 */
export function serverEvent(state, event, seq = null) {
  if (event.type === "session.created" || event.type === "session.updated") {
    const next = { ...state, effective: { session: event.session, type: event.type, seq } };
    if (event.type !== "session.updated" || state.update?.outcome !== "sent") return next;
    return {
      ...withStatus(next, "Applied: the server answered session.updated.", "ok"),
      update: { ...state.update, outcome: "applied", seq },
    };
  }
  if (event.type !== "error") return state;
  const message = event.error?.message || "unknown";
  const refused = state.update?.outcome === "sent" && event.error?.event_id === state.update.eventId;
  if (!refused) return withStatus(state, `Server error: ${message}`, "error");
  const code = event.error.code ? `${event.error.code}: ` : "";
  return {
    ...withStatus(state, `The server refused the session.update, nothing was applied: ${code}${message}`, "error"),
    update: { ...state.update, outcome: "refused", seq, message: `${code}${message}` },
  };
}

/** What the config panel says about the last session.update: `{hidden}` or `{text, kind, seq, link}`. */
export function configResult(update) {
  if (!update) return { hidden: true };
  if (update.outcome === "sent") {
    return { hidden: false, kind: "info", text: "Sent session.update; waiting for session.updated…", seq: null };
  }
  if (update.outcome === "applied") {
    return { hidden: false, kind: "ok", text: "Applied.", seq: update.seq, link: `session.updated #${update.seq}` };
  }
  return {
    hidden: false,
    kind: "error",
    text: `Not applied: the server refused it (${update.message}).`,
    seq: update.seq,
    link: `error #${update.seq}`,
  };
}

/** Push-to-talk sent `commit` (an input_audio_buffer.commit): its answer waits for the server's word. */
export function commitSent(state, commit) {
  return { ...state, pendingCommit: commit.event_id };
}

/**
 * A server event, for the commit push-to-talk sent: `input_audio_buffer.committed` → `{state, events}`
 * (the response.create to send now); an `error` naming the commit → `{state}` with the refusal in the
 * status line and no answer asked for; anything else → `{state}`.
 */
export function commitAnswered(state, event) {
  if (!state.pendingCommit) return { state };
  if (event.type === "input_audio_buffer.committed") {
    return { state: { ...state, pendingCommit: null }, events: [responseCreate()] };
  }
  if (event.type === "error" && event.error?.event_id === state.pendingCommit) {
    const why = event.error.message || event.error.code || "refused";
    const next = withStatus(state, `The server refused the commit, so no answer was asked for: ${why}`, "error");
    return { state: { ...next, pendingCommit: null } };
  }
  return { state };
}

/** The recorder's badge: stored and pending counts, and its state with the last error as the tooltip. */
export function recBadge(stats) {
  return {
    recorded: String(stats.acked ?? 0),
    pending: String(stats.pending ?? 0),
    state: stats.state,
    title: stats.lastError
      ? `Recorder: ${stats.state}; last error ${stats.lastError.status || ""} ${stats.lastError.message || ""}`
      : `Recorder: ${stats.state}`,
  };
}

/**
 * The sentence beside the status line that says what the recorder is doing when it is not simply keeping
 * up: "" when all is well. `clock(ms)` formats the time of the next retry.
 */
export function recNote(stats, clock = (ms) => new Date(ms).toLocaleTimeString()) {
  if (!stats) return "";
  const n = stats.pending ?? 0;
  const pending = `${n} event${n === 1 ? "" : "s"} pending`;
  const err = stats.lastError;
  const why = !err
    ? ""
    : err.status
      ? `HTTP ${err.status}${err.message ? `: ${err.message}` : ""}`
      : "the server is unreachable";
  if (stats.state === "halted") {
    return `The recorder stopped (${why || "refused"}): ${pending}, kept in this tab; nothing is retried.`;
  }
  if (stats.state === "backoff") {
    const at = stats.retryAt ? `, next retry at ${clock(stats.retryAt)}` : "";
    return `The recorder cannot store events (${why}): ${pending}${at}.`;
  }
  if (stats.consecutiveFailures > 0 && n > 0) return `The recorder is retrying (${why}): ${pending}.`;
  return "";
}

export function leftoversStatus(state, n) {
  if (!n) return state;
  return withStatus(
    state,
    `Stored the events a previous page of this tab had not sent yet (${n} session${n > 1 ? "s" : ""}).`,
  );
}

// ---- tools and function calls ----

/** The tools array of the form's JSON, or null while it is not one. */
export function toolsOf(form) {
  try {
    const t = JSON.parse(form.tools || "[]");
    return Array.isArray(t) ? t : null;
  } catch {
    return null;
  }
}

const brokenTools = (state) => ({ state: withStatus(state, "Fix the tools JSON first.", "error") });

/** A built-in tool switched on or off in the panel: → `{state, tools}` (the new list), or `{state}`. */
export function toolToggled(state, tools, { name, on }) {
  if (!tools) return brokenTools(state);
  const def = BUILTIN_TOOLS.find((t) => t.name === name);
  return { state, tools: on ? withTool(tools, def) : withoutTool(tools, name) };
}

/** A custom tool defined in the panel, with its fixed output (`mock`, may be empty). */
export function toolAdded(state, tools, { tool, mock }) {
  if (!tools) return brokenTools(state);
  return { state: { ...state, mocks: { ...state.mocks, [tool.name]: mock } }, tools: withTool(tools, tool) };
}

export function toolRemoved(state, tools, { name }) {
  if (!tools) return { state };
  const { [name]: _gone, ...mocks } = state.mocks;
  return { state: { ...state, mocks }, tools: withoutTool(tools, name) };
}

/**
 * The model called a function: a built-in runs (`clock`: runBuiltin's `{now, random}`), a mock answers,
 * else the user types the output. → `{state, output}` (send it; `palette` too for the palette tool) or
 * `{state, pending: true}` (ask the user).
 */
export function callArrived(state, call, clock) {
  const how = handlerFor(call.name, state.mocks);
  if (how.kind === "builtin") {
    const palette = call.name === "display_color_palette" ? paletteOf(call.arguments) : null;
    return { state, output: JSON.stringify(runBuiltin(call.name, call.arguments, clock)), palette };
  }
  if (how.kind === "mock") return { state, output: how.output };
  const next = withStatus(state, `The model called ${call.name}: type its output in the Tools panel.`, "info");
  return { state: { ...next, pendingCalls: { ...state.pendingCalls, [call.call_id]: call.name } }, pending: true };
}

/** The user typed the output of a pending call: → `{state, name}` (the tool's name, "?" if unknown). */
export function callAnswered(state, callId) {
  const { [callId]: name, ...pendingCalls } = state.pendingCalls;
  return { state: { ...state, pendingCalls }, name: name || "?" };
}

// ---- presets ----

export function presetLoaded(state, name, preset, live) {
  const next = { ...state, mocks: preset.mocks || {} };
  return withStatus(next, `Loaded preset “${name}”${live ? " — Apply sends it to the live session" : ""}.`);
}

// ---- "Open in console": /?seed=<id>[&conversation=1] ----

export function seedLoading(state, id) {
  return { ...withStatus(state, `Loading session ${id}…`), seedLoading: true };
}

/** The seed loaded: `seed` is console/seed.js's, `formBefore` the config it replaced. */
export function seedLoaded(state, { params, seed, formBefore }) {
  const also = params.conversation ? " and conversation" : "";
  const next = withStatus(state, `Seeded from session ${params.id}: Connect to start from its config${also}.`, "ok");
  return { ...next, seed, formBeforeSeed: formBefore, seedLoading: false };
}

export function seedFailed(state, params, error) {
  const next = withStatus(state, `Could not seed from session ${params.id}: ${error.message || error}`, "error");
  return { ...next, seedLoading: false };
}

export function seedCleared(state) {
  return { ...state, seed: null, formBeforeSeed: null };
}

/** The seeded conversation items went out. */
export function seedItemsSent(state, n) {
  return withStatus(state, `Sent the ${n} seeded conversation item${n === 1 ? "" : "s"}.`, "ok");
}

/** The seed notice above the config: `{hidden}`, or what it says and links to. */
export function seedNotice(seed) {
  if (!seed) return { hidden: true };
  const n = seed.items.length;
  const items = seed.conversation ? ` with its conversation (${n} item${n === 1 ? "" : "s"})` : "";
  return {
    hidden: false,
    text: seed.used() && seed.sessionId() ? `Session ${seed.sessionId()} seeded from session` : "Seeded from session",
    id: seed.id,
    href: `/sessions/${encodeURIComponent(seed.id)}`,
    items,
    state: seed.state(),
    title: `The next Connect uses this recorded config${items}.`,
  };
}

/** `href` without `seed` and `conversation`, so a reload does not seed again; null when it has no seed. */
export function withoutSeed(href) {
  const url = new URL(href);
  if (!url.searchParams.has("seed")) return null;
  url.searchParams.delete("seed");
  url.searchParams.delete("conversation");
  return url.toString();
}

/** What `consoleDebug.seed()` reports: null, or `{id, state, items, sessionId}` (`{state: "loading"}` first). */
export function seedDebug(state) {
  if (state.seedLoading) return { state: "loading" };
  const seed = state.seed;
  return seed && { id: seed.id, state: seed.state(), items: seed.items.length, sessionId: seed.sessionId() };
}
