// One live session at a time: connect in either flow, number and record every event (client as sent,
// server as received, system for connection states and failures), run the function-call coordinator,
// and end cleanly (hangup or close, flush the recorder, mark the session ended). The UI talks to it
// through the callbacks it is given; nothing here touches the DOM.

import { createRecorder, storedSessions } from "/static/js/lib/recorder.js";
import { createCallCoordinator } from "./calls.js";
import { createJournal } from "./journal.js";
import { ConnectError, connect } from "./rtc.js";

/** Where the server's own events after the browser's start (crates/console/src/http/rt/record.rs). */
const SERVER_TAIL_SEQ = 2 ** 50;

function asEntry(stored) {
  return { seq: stored.seq, ts: stored.ts, direction: stored.direction, event: stored.event };
}

async function storedEvents(sessionId, afterSeq, limit) {
  const res = await fetch(`/api/sessions/${encodeURIComponent(sessionId)}/events?after_seq=${afterSeq}&limit=${limit}`);
  if (!res.ok) throw new Error(`reading the session's events: HTTP ${res.status}`);
  return (await res.json()).events || [];
}

/** The call id of an ephemeral-flow session, which only the browser learns (the SDP answer's `Location`). */
async function reportCall(sessionId, callId) {
  const res = await fetch(`/api/sessions/${encodeURIComponent(sessionId)}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ call_id: callId }),
  });
  if (!res.ok) throw new Error(`recording the call id: HTTP ${res.status}`);
}

async function markEnded(sessionId) {
  await fetch(`/api/sessions/${encodeURIComponent(sessionId)}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ended: true }),
  });
}

/**
 * Ships what an earlier page of this tab left unsent (it was closed or reloaded mid-session, so its call
 * is gone) and marks those sessions ended. Resolves to how many sessions it finished.
 */
export async function resumeLeftovers(storage) {
  const left = storedSessions(storage).filter((s) => s.pending > 0);
  await Promise.all(
    left.map(async (s) => {
      const rec = createRecorder({
        sessionId: s.sessionId,
        firstSeq: s.nextSeq,
        fetch: window.fetch.bind(window),
        storage,
      });
      await rec.close();
      await markEnded(s.sessionId).catch(() => {});
    }),
  );
  return left.length;
}

/**
 * `onEntry(entry)` for every entry to show; `onState(component, state)` for `ice`/`peer`/`channel`;
 * `onPhase(phase, info)` for `connecting`/`open`/`closed-remote`/`idle`; `onRecStats(stats)`;
 * `onCall(call, coordinator)` for each completed function call; `onServerEvent(event, seq)` after each one
 * is journaled; `getMicTrack()` resolves to the microphone's track or null.
 */
export function createLive({
  audioEl,
  onEntry,
  onState,
  onPhase,
  onRecStats,
  onCall,
  onServerEvent,
  onError,
  getMicTrack,
  storage,
}) {
  let conn = null;
  let journal = createJournal({ onEntry: () => {} });
  let recorder = null;
  let sessionId = null;
  let ending = null;
  let connecting = false;
  // The session whose end (flush, PATCH, tail events) is complete.
  let finished = null;
  const timings = { clickAt: null, openAt: null, connectMs: null };

  const coordinator = createCallCoordinator({
    send: (events) => send(events),
    onCall: (call) => onCall(call, coordinator),
  });

  function system(event) {
    journal.push("system", event);
  }

  function send(events) {
    for (const event of events) {
      if (!conn || !conn.canSend()) {
        onError(`${event.type} not sent: the connection is down, nothing can be sent.`);
        return false;
      }
      const raw = conn.send(event);
      journal.push("client", event, raw);
      coordinator.clientEvent(event);
    }
    return true;
  }

  function received(raw) {
    let event;
    try {
      event = JSON.parse(raw);
    } catch {
      event = null;
    }
    if (!event || typeof event !== "object" || Array.isArray(event) || typeof event.type !== "string") {
      // Still on the record, as a system event that carries the text.
      system({ type: "console.unparsable_message", text: String(raw).slice(0, 10000) });
      return;
    }
    const entry = journal.push("server", event, raw);
    coordinator.serverEvent(event);
    onServerEvent(event, entry ? entry.seq : null);
  }

  function startRecording(info) {
    sessionId = info.sessionId;
    recorder = createRecorder({
      sessionId,
      firstSeq: info.nextSeq,
      fetch: window.fetch.bind(window),
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (id) => clearTimeout(id),
      storage,
    });
    recorder.onChange(onRecStats);
    const rec = recorder;
    journal.begin((direction, event, ts) => rec.record(direction, event, ts));
    const j = journal;
    // The server wrote seq 1 before answering; show it first. Without it, show the rest anyway.
    storedEvents(sessionId, 0, 1)
      .then((events) => j.adoptOpening(events[0] && events[0].seq < info.nextSeq ? asEntry(events[0]) : null))
      .catch(() => j.adoptOpening(null));
    onRecStats(rec.stats());
  }

  /** Flushes and closes the recorder, marks the session ended and shows the server's tail events. */
  async function finish(rec, sid, j) {
    if (rec) await rec.close();
    if (!sid) return;
    try {
      await markEnded(sid);
      for (const e of await storedEvents(sid, SERVER_TAIL_SEQ - 1, 1000)) j.adoptTail(asEntry(e));
    } catch (e) {
      onError(`ending the session: ${e.message || e}`);
    }
    finished = sid;
  }

  return {
    timings,
    async connect({ flow, session }) {
      if (conn || connecting) return;
      connecting = true;
      coordinator.reset();
      journal = createJournal({ onEntry });
      recorder = null;
      sessionId = null;
      timings.clickAt = performance.now();
      timings.openAt = null;
      timings.connectMs = null;
      onPhase("connecting", {});
      system({ type: "console.connect", flow, session });
      const micTrack = await getMicTrack().catch((e) => {
        system({ type: "console.error", where: "microphone", message: String(e?.message || e) });
        return null;
      });
      try {
        conn = await connect({
          flow,
          session,
          micTrack,
          audioEl,
          onSession: (info) => {
            startRecording(info);
            onPhase("session", info);
          },
          onState: (component, state) => {
            onState(component, state);
            system({ type: "console.state", component, state });
            if (component === "channel" && state === "open") {
              timings.openAt = performance.now();
              timings.connectMs = timings.openAt - timings.clickAt;
              onPhase("open", { connectMs: timings.connectMs });
            } else if (
              conn &&
              !ending &&
              ((component === "channel" && state === "closed") ||
                (component === "peer" && (state === "failed" || state === "closed")))
            ) {
              onPhase("closed-remote", {});
            }
          },
          onMessage: received,
          onTrack: (stream) => onPhase("track", { stream }),
        });
      } catch (e) {
        const err = e instanceof ConnectError ? e : new ConnectError(String(e?.message || e));
        connecting = false;
        if (micTrack) micTrack.stop();
        const failed = {
          type: "console.error",
          where: "connect",
          status: err.status,
          message: err.message,
          error: err.body?.error ?? null,
        };
        if (journal.started()) {
          system(failed);
          finish(recorder, sessionId, journal);
        } else {
          // No session to record into: the log shows the reason all the same.
          journal.showUnrecorded({ ...failed, recorded: false });
        }
        onPhase("idle", { error: err.message });
        return;
      }
      conn.micTrack = micTrack;
      connecting = false;
      if (conn.flow === "ephemeral" && conn.callId && sessionId) {
        reportCall(sessionId, conn.callId).catch((e) => {
          system({ type: "console.error", where: "call_id", message: String(e?.message || e) });
        });
      }
    },

    async disconnect() {
      if (!conn) return;
      const c = conn;
      ending = true;
      system({ type: "console.disconnect", flow: c.flow, call_id: c.callId });
      if (c.flow === "unified" && c.sessionId) {
        try {
          const res = await fetch(`/api/rt/session/${encodeURIComponent(c.sessionId)}/hangup`, { method: "POST" });
          if (!res.ok)
            system({
              type: "console.error",
              where: "hangup",
              status: res.status,
              message: `hangup: HTTP ${res.status}`,
            });
        } catch (e) {
          system({ type: "console.error", where: "hangup", status: 0, message: String(e?.message || e) });
        }
      }
      c.close();
      if (c.micTrack) c.micTrack.stop();
      conn = null;
      ending = null;
      onPhase("idle", {});
      // In the background: the page is usable at once, the recorder keeps retrying until it is done.
      finish(recorder, sessionId, journal);
    },

    send,
    /** A text or function output the user typed, or any other client event list. */
    isOpen: () => !!conn && conn.isOpen(),
    responseActive: () => coordinator.isResponseActive(),
    coordinator,
    connection: () => conn,
    journal: () => journal,
    recorder: () => recorder,
    sessionId: () => sessionId,
    finished: () => finished,
    /** `pagehide`: send what is pending with keepalive (and keep it in storage). */
    unload() {
      if (recorder) recorder.flushOnUnload();
    },
  };
}
