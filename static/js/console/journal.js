// The console's record of one connection: every event becomes `{seq, ts, direction, event}` in the order
// it happened, and goes to the recorder and to the views. No DOM here.
//
// Seqs are the recorder's: the server records seq 1 itself when it creates the session, the browser goes
// on at `next_seq`. Events before the session exists (the unified flow posts its offer first) wait and
// are numbered when it does. What the views get waits for the server's opening event, so that the page
// shows the session in seq order, exactly as it is stored.

export function createJournal({ onEntry, now = () => Date.now() }) {
  // (direction, event, ts, raw) → seq, once the session is known.
  let assign = null;
  let waiting = [];
  // Entries numbered but not shown yet: the opening event has not been adopted.
  let held = [];
  let holding = true;
  const entries = [];

  function show(entry) {
    entries.push(entry);
    onEntry(entry);
  }

  function number({ ts, direction, event, raw }) {
    const entry = { seq: assign(direction, raw ?? event, ts), ts, direction, event };
    if (holding) held.push(entry);
    else show(entry);
    return entry;
  }

  return {
    /** The session is known: `assignSeq(direction, eventOrRawText, ts)` records an event, returns its seq. */
    begin(assignSeq) {
      assign = assignSeq;
      const queue = waiting;
      waiting = [];
      for (const w of queue) number(w);
    },
    /**
     * Adds an event (`raw`: the JSON text as sent or received, recorded byte for byte). Returns its entry,
     * or null while the session is not known yet.
     */
    push(direction, event, raw) {
      const item = { ts: now(), direction, event, raw };
      if (!assign) {
        waiting.push(item);
        return null;
      }
      return number(item);
    },
    /** The server's opening event (or null if it could not be read): shown first, then the rest. */
    adoptOpening(entry) {
      if (!holding) return;
      holding = false;
      if (entry) show(entry);
      const queue = held;
      held = [];
      for (const e of queue) show(e);
    },
    /** Events the server recorded after the browser's (a hangup), shown last as they are. */
    adoptTail(entry) {
      show(entry);
    },
    /** What never got a session (the connect failed before one existed). */
    discardWaiting() {
      const queue = waiting;
      waiting = [];
      return queue;
    },
    /**
     * The connect failed before a session existed: nothing can be recorded, but the log still shows what
     * happened (what waited, then `event`), numbered from 1 on the page alone.
     */
    showUnrecorded(event) {
      const queue = [...waiting, { ts: now(), direction: "system", event }];
      waiting = [];
      for (const { ts, direction, event: e } of queue) show({ seq: entries.length + 1, ts, direction, event: e });
    },
    /** Entries shown, in order. */
    entries() {
      return entries;
    },
    started() {
      return assign !== null;
    },
  };
}
