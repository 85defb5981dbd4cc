// "Open in console": what a new live session needs to start where a recorded one was. No DOM.
//
//   import { loadSeed } from "./seed.js";
//   const { session, items } = await loadSeed(id);
//
// `session` is the config the recorded session ended with: the `session` of its last server
// `session.created` / `session.updated` (what the server said it runs, after every `session.update`), else
// the config the server minted its key with; to send as the token request's `session` overrides. `items` are `conversation.item.create` items rebuilding the
// recorded conversation (user and assistant messages as text, function calls with their outputs), in
// conversation order, for the console to send before the first turn if the user asked for them.

import { createTranscript } from "../lib/transcript.js";

/** Events read for a seed at most; a longer session is seeded with its beginning. */
const MAX_EVENTS = 50_000;

/** The session config the server last reported in `entries` (server `session.created`/`.updated`), or null. */
export function lastSessionConfig(entries, previous = null) {
  let last = previous;
  for (const e of entries) {
    const t = e.event?.type;
    const s = e.event?.session;
    if (e.direction !== "server" || (t !== "session.created" && t !== "session.updated")) continue;
    if (s && typeof s === "object" && !Array.isArray(s)) last = s;
  }
  return last;
}

/** Conversation items from transcript turns (lib/transcript.js). Pure. */
export function itemsFromTurns(turns) {
  const items = [];
  for (const t of turns) {
    if (t.kind === "function_call") {
      if (!t.callId || !t.name) continue;
      items.push({ type: "function_call", call_id: t.callId, name: t.name, arguments: t.arguments ?? "{}" });
      if (t.output !== undefined) {
        const output = typeof t.output === "string" ? t.output : JSON.stringify(t.output);
        items.push({ type: "function_call_output", call_id: t.callId, output });
      }
      continue;
    }
    const text = (t.text ?? "").trim();
    if (!text || t.kind !== "message") continue;
    if (t.role === "assistant") {
      items.push({ type: "message", role: "assistant", content: [{ type: "output_text", text }] });
    } else if (t.role === "user" || t.role === "system") {
      items.push({ type: "message", role: t.role, content: [{ type: "input_text", text }] });
    }
  }
  return items;
}

export async function loadSeed(id, { fetch: f = globalThis.fetch.bind(globalThis) } = {}) {
  const res = await f(`/api/sessions/${encodeURIComponent(id)}`);
  if (!res.ok) throw new Error(`session ${id}: HTTP ${res.status}`);
  const recorded = await res.json();
  const transcript = createTranscript();
  let after = 0;
  let read = 0;
  let ended = null;
  while (after !== null && read < MAX_EVENTS) {
    const page = await (await f(`/api/sessions/${encodeURIComponent(id)}/events?limit=1000&after_seq=${after}`)).json();
    transcript.addMany(page.events);
    ended = lastSessionConfig(page.events, ended);
    read += page.events.length;
    after = page.next_after_seq;
  }
  const session = { ...(ended ?? recorded.config ?? {}) };
  return { session, items: itemsFromTurns(transcript.turns), source: recorded };
}
