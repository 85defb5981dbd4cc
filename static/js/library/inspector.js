// The session inspector (/sessions/{id}): the console's own event log panel, transcript and metrics over a
// recorded session, paged from the server (never the whole session at once); server-side filters once the
// session is bigger than what is loaded; a timeline strip; replay; deep links (#seq-123); live follow.

import { mount as mountLog } from "../components/log-panel.js";
import { mount as mountTranscript } from "../components/transcript-view.js";
import { mount as mountMetrics } from "../components/metrics-view.js";
import { createReplay } from "./replay.js";
import { mountTimeline } from "./timeline.js";
import { apiFilter, sameFilter } from "./filters.js";

const PAGE = 500;
/** Sessions up to this many events are loaded whole (a page at a time); bigger ones page on demand. */
const LOAD_ALL_UP_TO = 5000;

const root = document.getElementById("inspector");
const id = root.dataset.id;
const total = Number(root.dataset.events) || 0;
const logEl = document.getElementById("log");
const status = document.getElementById("insp-status");
const moreBtn = document.getElementById("more");

const panel = mountLog(logEl, {});
const transcript = mountTranscript(document.getElementById("transcript"));
const metrics = mountMetrics(document.getElementById("metrics"), {
  storage: localStorage,
  model: root.dataset.model || undefined,
});
const timeline = mountTimeline(document.getElementById("timeline"));

let seen = new Set(); // seqs in the views: transcript and metrics must not see an entry twice
let listing = { after: 0, filter: null, next: 0 }; // what the panel shows: from `after`, `next` to load
let view = 0; // bumps whenever the panel is reloaded: late pages of an older listing are dropped
let types = null;
let timelineData = null;

let firstRowMarked = false;

function add(entries) {
  const fresh = entries.filter((e) => !seen.has(e.seq));
  if (!fresh.length) return;
  if (!firstRowMarked) {
    firstRowMarked = true;
    // "First rows on screen", for the bench: the panel paints on the next frame.
    requestAnimationFrame(() => requestAnimationFrame(() => performance.mark("inspector:first-row")));
  }
  for (const e of fresh) seen.add(e.seq);
  panel.addMany(fresh);
  transcript.addMany(fresh);
  metrics.addMany(fresh);
  showCount();
}

function clearViews() {
  seen = new Set();
  panel.clear();
  transcript.clear();
  metrics.clear();
}

function showCount() {
  const { entries } = panel.count();
  const where = listing.after > 0 ? ` from seq ${listing.after + 1}` : "";
  const filtered = listing.filter ? " matching the filter" : "";
  status.textContent = `${entries} of ${total} events loaded${where}${filtered}.`;
  moreBtn.hidden = listing.next === null;
}

async function fetchPage(after, filter, limit = PAGE) {
  const q = new URLSearchParams({ after_seq: String(after), limit: String(limit), ...(filter ?? {}) });
  const res = await fetch(`/api/sessions/${id}/events?${q}`);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

/** The first page is small, and asked for by the page's <head> before this module even loads. */
const FIRST_PAGE = 200;

/** Loads the next page of the current listing. */
async function more() {
  if (listing.next === null) return;
  const v = view;
  const first = listing.next === 0 && !listing.filter && panel.count().entries === 0;
  const page = await fetchPage(listing.next, listing.filter, first ? FIRST_PAGE : PAGE);
  if (v !== view) return;
  add(page.events);
  listing.next = page.next_after_seq;
  showCount();
}

/** Replaces what the panel shows with the listing from `after` (with a server-side filter, or none). */
async function reload(after, filter) {
  view += 1;
  listing = { after, filter, next: after };
  clearViews();
  await more();
}

async function loadWhole() {
  while (listing.next !== null) await more();
}

/** True when the panel holds the whole session, so its own (client-side) filter is exact. */
const whole = () => listing.after === 0 && !listing.filter && listing.next === null;

async function jumpTo(seq) {
  if (!panel.log.entryOf(seq)) {
    await reload(Math.max(0, seq - 50), null);
    while (!panel.log.entryOf(seq) && listing.next !== null && listing.next < seq) await more();
  }
  panel.reveal(seq);
}

// ---- filters: the panel filters what it holds; for a bigger session the server filters the rest ----
logEl.addEventListener("log:filter", async (e) => {
  if (replay.state.played > 0 || live) return;
  if (whole() && !listing.filter) return;
  const f = apiFilter(e.detail, types ?? []);
  if (sameFilter(f, listing.filter)) return;
  await reload(0, f);
});
moreBtn.addEventListener("click", () => more());

// ---- deep links ----
logEl.addEventListener("log:select", (e) => {
  const seq = e.detail?.entry?.seq;
  if (seq !== undefined) history.replaceState(null, "", `#seq-${seq}`);
});
const hashSeq = () => Number(/^#seq-(\d+)$/.exec(location.hash)?.[1] ?? NaN);
addEventListener("hashchange", () => {
  const seq = hashSeq();
  if (Number.isFinite(seq) && panel.log.rowOf(seq)?.seq !== seq) jumpTo(seq);
});
for (const [el, name] of [[document.getElementById("transcript"), "transcript:select"],
  [document.getElementById("metrics"), "metrics:select"]]) {
  el.addEventListener(name, (e) => jumpTo(e.detail.seq));
}
document.getElementById("timeline").addEventListener("timeline:jump", (e) => {
  if (e.detail.seq !== undefined) jumpTo(e.detail.seq);
});

// ---- replay ----
const controls = document.getElementById("replay");
const ctl = (name) => controls.querySelector(`[data-act=${name}]`);
const replay = createReplay({
  fetchPage: async (after) => {
    const page = await fetchPage(after, null, 1000);
    return { events: page.events, next: page.next_after_seq };
  },
  onReset: () => {
    view += 1;
    listing = { after: 0, filter: null, next: null };
    clearViews();
  },
  onEntry: (e) => add([e]),
  onState: (s) => {
    ctl("play").disabled = s.playing;
    ctl("pause").disabled = !s.playing;
    ctl("pos").textContent = s.done ? `${s.played} events · end` : `${s.played} events`;
    if (s.position !== null) {
      timeline.setCursor(s.position);
      const span = timelineSpan();
      if (span) ctl("scrub").value = String(Math.round(((s.position - span.t0) / ((span.t1 - span.t0) || 1)) * 1000));
    }
  },
});
let replayStarted = false;
function startReplay() {
  if (!replayStarted) {
    replayStarted = true;
    replay.reset();
  }
}
ctl("play").addEventListener("click", () => { startReplay(); replay.play(); });
ctl("pause").addEventListener("click", () => replay.pause());
ctl("step").addEventListener("click", () => { startReplay(); replay.step(); });
ctl("all").addEventListener("click", () => { startReplay(); replay.instant(); });
ctl("speed").addEventListener("change", (e) => replay.setSpeed(Number(e.target.value)));
ctl("scrub").addEventListener("change", (e) => {
  const span = timelineSpan();
  if (!span) return;
  replayStarted = true;
  replay.seek(span.t0 + (Number(e.target.value) / 1000) * (span.t1 - span.t0));
});

function timelineSpan() {
  const pts = timelineData?.points;
  if (!pts?.length) return null;
  const ts = pts.map((p) => p.ts);
  return { t0: Math.min(...ts), t1: Math.max(...ts) };
}

// ---- live follow ----
let live = root.dataset.live === "true";
const badge = document.getElementById("live-badge");
function follow() {
  const source = new EventSource(`/api/sessions/${id}/live`);
  // While a replay runs it owns the views; what arrives meanwhile is in the store, where the replay reads.
  source.addEventListener("event", (m) => { if (!replayStarted) add([JSON.parse(m.data)]); });
  source.addEventListener("caught-up", () => { window.inspectorDebug.ready = true; });
  source.addEventListener("session", (m) => {
    const s = JSON.parse(m.data);
    document.getElementById("count").textContent = String(s.stats.events.total);
    if (s.ended_at !== null) {
      badge.hidden = true;
      live = false;
    }
  });
  source.addEventListener("deleted", () => {
    source.close();
    status.textContent = "This session was deleted.";
  });
}

// ---- open in console: `/?seed=<id>` (config only) or `/?seed=<id>&conversation=1` ----
const openLink = document.getElementById("open-in-console");
document.getElementById("seed-conversation").addEventListener("change", (e) => {
  openLink.href = `/?seed=${encodeURIComponent(id)}${e.target.checked ? "&conversation=1" : ""}`;
});

// For the browser tests (and the curious, in devtools): what the views hold, read-only.
window.inspectorDebug = {
  ready: false,
  seqs: () => [...seen],
  turns: () => transcript.transcript.turns.map((t) => ({ role: t.role, text: t.text })),
  listing: () => ({ ...listing }),
  replay: () => replay.state,
};

// ---- start ----
async function start() {
  fetch(`/api/sessions/${id}/types`).then((r) => (r.ok ? r.json() : null)).then((t) => { types = t?.types?.map((x) => x.type) ?? null; });
  fetch(`/api/sessions/${id}/timeline?samples=300`).then((r) => (r.ok ? r.json() : null)).then((t) => {
    if (!t) return;
    timelineData = t;
    timeline.draw(t);
  });
  if (live) {
    // The stream starts with everything already committed, in commit order, then follows.
    listing = { after: 0, filter: null, next: null };
    follow();
    return;
  }
  const seq = hashSeq();
  if (Number.isFinite(seq)) await jumpTo(seq);
  else await reload(0, null);
  if (total <= LOAD_ALL_UP_TO && listing.after === 0 && !listing.filter) await loadWhole();
}
start().then(() => { if (!live) window.inspectorDebug.ready = true; });
