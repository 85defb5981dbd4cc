// The session inspector's state, in one object, and the decisions on it: which page to ask for next, when a
// filter needs the server, what the status line and the replay controls say. Pure functions (state, input)
// → next state or a plain answer; no DOM, no IO (library/inspector.js does the fetching and the drawing).

import { apiFilter, sameFilter } from "./filters.js";

export const PAGE = 500;
/** The first page is small, and asked for by the page's <head> before the module even loads. */
export const FIRST_PAGE = 200;
/** Sessions up to this many events are loaded whole (a page at a time); bigger ones page on demand. */
export const LOAD_ALL_UP_TO = 5000;
/** A replay reads the store in pages of this many. */
export const REPLAY_PAGE = 1000;

/** The page's starting state, from the root element's data: `{id, total, live}`. */
export function initialState({ id, total, live }) {
  return {
    id,
    total, // events in the session when the page was rendered
    live, // following a session still being recorded
    // What the panel shows: the session from seq `after` (with a server-side `filter`), `next` to load
    // (null: all of it loaded).
    listing: { after: 0, filter: null, next: 0 },
    view: 0, // bumps whenever the panel is reloaded: late pages of an older listing are dropped
    types: null, // the session's event types, once known
    timeline: null, // {points, turns, errors}, once known
    replayStarted: false, // the replay owns the views from its first use on
    ready: false, // loaded (or caught up, when live): for the tests
    deleted: false, // the live stream said the session was deleted
  };
}

/** True when the panel holds the whole session, so its own (client-side) filter is exact. */
export function isWhole(listing) {
  return listing.after === 0 && !listing.filter && listing.next === null;
}

/** The listing from `after` (with a server-side filter, or none), nothing loaded yet; a new view. */
export function reloaded(state, after, filter) {
  return { ...state, view: state.view + 1, listing: { after, filter, next: after } };
}

/** A listing that loads nothing: live follow and replay fill the views themselves. */
export function detached(state, { newView = false } = {}) {
  return { ...state, view: state.view + (newView ? 1 : 0), listing: { after: 0, filter: null, next: null } };
}

/**
 * The next page to ask for, given how many entries the panel holds: `{view, after, filter, limit}`, or null
 * when the listing is complete. The very first page of a plain listing is the small one the <head> preloads.
 */
export function nextPage(state, loaded) {
  const { listing } = state;
  if (listing.next === null) return null;
  const first = listing.next === 0 && !listing.filter && loaded === 0;
  return { view: state.view, after: listing.next, filter: listing.filter, limit: first ? FIRST_PAGE : PAGE };
}

/** A page arrived for `request`: null when it belongs to an older view (drop it), else the next state. */
export function pageArrived(state, request, page) {
  if (request.view !== state.view) return null;
  return { ...state, listing: { ...state.listing, next: page.next_after_seq } };
}

/** The query of `GET /api/sessions/{id}/events`. */
export function pageQuery(after, filter, limit) {
  return new URLSearchParams({ after_seq: String(after), limit: String(limit), ...(filter ?? {}) }).toString();
}

/** Whether the start should go on loading until the whole session is in the page. */
export function loadsWhole(state) {
  return state.total <= LOAD_ALL_UP_TO && state.listing.after === 0 && !state.listing.filter;
}

/**
 * The panel's filter changed (`log:filter`): the server-side filter to reload with (`{filter}`, filter may
 * be null), or null when the panel's own filter is enough (whole session, live, or a replay running).
 */
export function filterReload(state, filter, replayPlayed) {
  if (replayPlayed > 0 || state.live) return null;
  if (isWhole(state.listing) && !state.listing.filter) return null;
  const f = apiFilter(filter, state.types ?? []);
  if (sameFilter(f, state.listing.filter)) return null;
  return { filter: f };
}

/** Where a jump to `seq` that is not loaded reloads from: a little context before it. */
export function jumpStart(seq) {
  return Math.max(0, seq - 50);
}

/**
 * How the page starts loading, given the seq of its deep link (NaN: none): `{after, whole, reveal}`. A
 * session small enough is loaded whole even with a link, so the transcript and usage cover all of it, and the
 * list then scrolls to the linked event; a bigger one loads from a little before it.
 */
export function startLoad(state, seq) {
  const linked = Number.isFinite(seq);
  const whole = loadsWhole(state);
  return { after: linked && !whole ? jumpStart(seq) : 0, whole, reveal: linked ? seq : null };
}

/**
 * The event types the usage summary (lib/metrics.js) needs, but for the first-delta latency (which would
 * need every delta). A session too big to load whole reads them on their own, so its usage, cost and
 * response count cover all of it whatever part the list shows.
 */
export const USAGE_TYPES = [
  "session.created",
  "session.updated",
  "response.create",
  "input_audio_buffer.speech_stopped",
  "response.created",
  "output_audio_buffer.started",
  "response.done",
  "error",
  "conversation.item.input_audio_transcription.completed",
];

/** Entries from several seq-ordered lists, in one seq order. */
export function mergeBySeq(lists) {
  return lists.flat().sort((a, b) => a.seq - b.seq);
}

/** The seq of a `#seq-123` deep link, or NaN. */
export function seqFromHash(hash) {
  return Number(/^#seq-(\d+)$/.exec(hash)?.[1] ?? NaN);
}

/** The status line under the panel, and whether "Load more" shows. */
export function listingStatus(state, loaded) {
  const { listing } = state;
  // A live session grows past the count the page was rendered with: the whole listing is all there is.
  const whole = listing.after === 0 && !listing.filter;
  const total = whole ? Math.max(state.total, loaded) : state.total;
  const where = listing.after > 0 ? ` from seq ${listing.after + 1}` : "";
  const filtered = listing.filter ? " matching the filter" : "";
  return { text: `${loaded} of ${total} events loaded${where}${filtered}.`, more: listing.next !== null };
}

/** The live stream's `session` message: the header's counts, and whether the session is still live. */
export function sessionUpdated(state, session) {
  const { stats } = session;
  const [first, last] = [stats.first_event_ts, stats.last_event_ts];
  const created = session.created_at ?? 0;
  const span = first != null && last != null ? last - first : (session.ended_at ?? created) - created;
  const total = Math.max(state.total, stats.events.total ?? 0);
  return {
    state: { ...state, total, live: session.ended_at !== null ? false : state.live },
    header: {
      count: stats.events.total,
      errors: stats.errors ?? 0,
      turns: stats.responses ?? 0,
      duration: clock(span),
    },
  };
}

/** What the header counts, before any event: `{events, errors, turns, firstTs, lastTs}`. */
export const EMPTY_TALLY = { events: 0, errors: 0, turns: 0, firstTs: null, lastTs: null };

/**
 * The header's counts after the live stream delivered `entry` (each event once): counted as the server
 * counts them (every event, `error`s, `response.done`s as turns, the span of their `ts`), so they agree with
 * the page as rendered and with what it shows once the call ends.
 */
export function tallied(tally, entry) {
  const type = entry.event?.type;
  return {
    events: tally.events + 1,
    errors: tally.errors + (type === "error" ? 1 : 0),
    turns: tally.turns + (type === "response.done" ? 1 : 0),
    firstTs: tally.firstTs === null ? entry.ts : Math.min(tally.firstTs, entry.ts),
    lastTs: tally.lastTs === null ? entry.ts : Math.max(tally.lastTs, entry.ts),
  };
}

/** The header's figures for a tally: `{count, errors, turns, duration}`. */
export function tallyHeader(tally) {
  const span = tally.firstTs === null ? 0 : tally.lastTs - tally.firstTs;
  return { count: tally.events, errors: tally.errors, turns: tally.turns, duration: clock(span) };
}

/** `1:02:03`, `2:03` or `0:04`, as the server renders a duration (library/mod.rs). */
export function clock(ms) {
  const total = Math.floor(Math.max(0, ms) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor(total / 60) % 60;
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** The time span of the timeline's samples: `{t0, t1}`, or null before there is one. */
export function timelineSpan(timeline) {
  const pts = timeline?.points;
  if (!pts?.length) return null;
  const ts = pts.map((p) => p.ts);
  return { t0: Math.min(...ts), t1: Math.max(...ts) };
}

/** What the replay controls show for the replay's state `s` ({playing, played, done, position}). */
export function replayView(s, span) {
  const scrub =
    s.position !== null && span ? String(Math.round(((s.position - span.t0) / (span.t1 - span.t0 || 1)) * 1000)) : null;
  return {
    playing: s.playing,
    pos: s.done ? `${s.played} events · end` : `${s.played} events`,
    cursor: s.position, // the timeline's cursor (null: leave it)
    scrub, // the slider's value, 0–1000 (null: leave it)
  };
}

/** The time a slider value (0–1000) stands for. */
export function scrubTime(value, span) {
  return span.t0 + (Number(value) / 1000) * (span.t1 - span.t0);
}

/** "Open in console": the config only, or with the conversation. */
export function openInConsoleHref(id, withConversation) {
  return `/?seed=${encodeURIComponent(id)}${withConversation ? "&conversation=1" : ""}`;
}

/** A replay faster than this (×) is not heard: sound at 10× is noise. */
export const AUDIBLE_SPEED = 2;
/** A replay heard puts the player back on the entry it plays when the two are this far apart (ms). */
export const REPLAY_DRIFT_MS = 300;
