// "Open in console" on the live page: `/?seed=<id>[&conversation=1]` starts the next connection where a
// recorded session was. The recorded config (library/seed.js) goes to the config editor; on Connect it is
// the token request's overrides (cut to the fields the server accepts), the new session is marked
// `seeded_from`, and with `conversation=1` the recorded items are sent as `conversation.item.create` once
// `session.created` arrives, before the user's first turn. The pure parts are exported for tests; the
// controller takes its IO (fetch) and reports through callbacks. No DOM here.

import { eventId } from "./commands.js";

/**
 * The fields an override may hold at each level, `{"session": [...], "session.audio": [...], ...}`: the
 * server's own table (crates/console/src/http/rt/overrides.rs), which it renders into the page as
 * `#console`'s `data-allowed-overrides`; the page passes it to `useAllowedOverrides` before anything else.
 * Below these levels a value is taken whole.
 */
let allowedOverrides = {};

/** Takes the server's allow-list (see above) for every function below. */
export function useAllowedOverrides(levels) {
  allowedOverrides = levels && typeof levels === "object" ? levels : {};
}

/**
 * Fields a recorded session shows as null that a seed leaves out: `include` may only be given a value (the
 * schema's), and a null `prompt` or `tracing` is what a session has when nobody set one, so the seed keeps
 * the new session's defaults rather than asking for them.
 */
const NOT_NULL = new Set(["session.include", "session.prompt", "session.tracing"]);

const isObject = (v) => !!v && typeof v === "object" && !Array.isArray(v);

/** `session` with only the fields the server's override check accepts (the rest would be a 400). Pure. */
export function stripOverrides(session, path = "session") {
  const allowed = allowedOverrides[path];
  if (!allowed) return session;
  if (!isObject(session)) return {};
  const out = {};
  for (const key of allowed) {
    if (!(key in session) || session[key] === undefined) continue;
    const child = `${path}.${key}`;
    if (session[key] === null && NOT_NULL.has(child)) continue;
    if (allowedOverrides[child]) {
      if (!isObject(session[key])) continue;
      const inner = stripOverrides(session[key], child);
      if (Object.keys(inner).length) out[key] = inner;
    } else {
      out[key] = session[key];
    }
  }
  return out;
}

/**
 * The overrides to connect with: the form's session (what the user sees and may have edited) over the
 * seed's stripped config. Objects merge only at the override levels; below them the form's value wins
 * whole. Instructions the user cleared stay cleared (the server's default). Pure.
 */
export function seededOverrides(seed, form, path = "session") {
  if (!isObject(form)) return form ?? seed;
  if (!isObject(seed)) return form;
  const out = { ...seed };
  for (const [key, value] of Object.entries(form)) {
    const child = `${path}.${key}`;
    out[key] =
      allowedOverrides[child] && isObject(value) && isObject(seed[key])
        ? seededOverrides(seed[key], value, child)
        : value;
  }
  if (path === "session" && !("instructions" in form)) delete out.instructions;
  return out;
}

/** `{id, conversation}` from a page's query string, or null without `seed`. */
export function seedParams(search) {
  const q = new URLSearchParams(search);
  const id = (q.get("seed") || "").trim();
  if (!id) return null;
  return { id, conversation: q.get("conversation") === "1" };
}

/** The client events that rebuild the conversation, in order. Pure (besides the event ids). */
export function itemEvents(items) {
  return (items || []).map((item) => ({ type: "conversation.item.create", event_id: eventId(), item }));
}

/**
 * One seed, for the next connection. `seed` is `{id, conversation, session, items}` (session: the stripped
 * recorded config). States: `ready` (waiting for a connect) → `attached` (the new session is marked) →
 * `sent` (the items went out; also right after `attached` when there are none to send).
 */
export function createSeed(seed, { fetch: f, onError = () => {} }) {
  let state = "ready";
  let sessionId = null;
  let pending = seed.conversation ? itemEvents(seed.items) : [];

  return {
    id: seed.id,
    conversation: seed.conversation,
    session: seed.session,
    items: seed.items,
    state: () => state,
    sessionId: () => sessionId,
    /** The overrides to connect with, given the form's session. */
    overrides: (formSession) => seededOverrides(seed.session, formSession),
    /** The token/session response named the new session: mark it. */
    async attach(newId) {
      if (state !== "ready") return;
      sessionId = newId;
      state = pending.length ? "attached" : "sent";
      try {
        const res = await f(`/api/sessions/${encodeURIComponent(newId)}`, {
          method: "PATCH",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ seeded_from: seed.id }),
        });
        if (!res.ok) onError(`marking the session as seeded from ${seed.id}: HTTP ${res.status}`);
      } catch (e) {
        onError(`marking the session as seeded from ${seed.id}: ${e.message || e}`);
      }
    },
    /** The item events still to send (once): call on `session.created` and before the user's first turn. */
    take() {
      if (state !== "attached") return [];
      const out = pending;
      pending = [];
      state = "sent";
      return out;
    },
    /** Whether this seed was used by a connection already. */
    used: () => state !== "ready",
  };
}
