// The session inspector (/sessions/{id}): the console's own event log panel, transcript and metrics over a
// recorded session, paged from the server (never the whole session at once); server-side filters once the
// session is bigger than what is loaded; a timeline strip; replay; deep links (#seq-123); live follow; and,
// when the session has audio, its two lanes under the strip and a player the list and transcript follow.
// A controller: the state is one object (its decisions are in inspector-state.js), the components get it
// through their calls, and what the user does comes up as their CustomEvents.

import { mount as mountLog } from "../components/log-panel.js";
import { mount as mountMetrics } from "../components/metrics-view.js";
import { mount as mountTranscript } from "../components/transcript-view.js";
import * as au from "./audio.js";
import { mountLanes } from "./audio-lanes.js";
import { mountPlayer } from "./audio-player.js";
import * as act from "./inspector-state.js";
import { createReplay } from "./replay.js";
import { mount as mountReplayControls } from "./replay-controls.js";
import { mountTimeline } from "./timeline.js";

/** Mounts the inspector on its page's root element (`#inspector`, with data-id, -events, -live, -model). */
export function mount(root) {
  const $ = (id) => root.querySelector(`#${id}`);
  let state = act.initialState({
    id: root.dataset.id,
    total: Number(root.dataset.events) || 0,
    live: root.dataset.live === "true",
  });
  // The seqs the views hold (transcript and metrics must not see an entry twice): kept beside the state,
  // not in it, because copying it per live event would make following a long session quadratic.
  const seen = new Set();
  let firstRowMarked = false;
  // A session too big to load whole feeds its usage summary apart from the list (loadUsage), until a replay
  // takes the views over; `usageRun` drops a pass that a replay overtook.
  let usageApart = false;
  let usageRun = 0;

  const panel = mountLog($("log"), {});
  const transcript = mountTranscript($("transcript"));
  const metrics = mountMetrics($("metrics"), { storage: localStorage, model: root.dataset.model || undefined });
  const timeline = mountTimeline($("timeline"));
  const replayControls = mountReplayControls($("replay"));
  const lanes = mountLanes($("audio-lanes"));
  const player = mountPlayer($("audio-player"), { sessionId: state.id, onTick: (pos, playing) => heard(pos, playing) });
  // The session's audio (audio.js's audioModel), once loaded and if it has any; its turns' spans and barge-ins.
  let audio = null;
  let spans = { spans: [], bargeIns: [] };
  // Set while the inspector itself selects a row (following the audio, or a jump), so that the list's
  // `log:select` seeks the player only when the user chose the row.
  let selecting = false;
  let followedSeq = null;
  let loadingMore = false; // a page asked for because the audio got past what is loaded

  function set(next) {
    state = next;
    render();
  }

  /** The header's counters: `{count, errors, turns, duration}` (inspector-state.js). */
  function showHeader(h) {
    $("count").textContent = String(h.count);
    $("errors").textContent = String(h.errors);
    $("turns").textContent = String(h.turns);
    $("duration").textContent = h.duration;
  }

  function render() {
    const { text, more } = act.listingStatus(state, panel.count().entries);
    $("insp-status").textContent = state.deleted ? "This session was deleted." : text;
    $("more").hidden = !more;
    if (!state.live) $("live-badge").hidden = true;
  }

  // ---- the views, and what is loaded into them ----
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
    if (!usageApart) metrics.addMany(fresh);
    render();
  }

  function clearViews() {
    seen.clear();
    panel.clear();
    transcript.clear();
    if (!usageApart) metrics.clear();
  }

  /** The usage summary of the whole session, from the few event types it needs (act.USAGE_TYPES). */
  async function loadUsage() {
    const run = ++usageRun;
    const lists = [];
    for (const type of act.USAGE_TYPES) {
      const got = [];
      for (let after = 0; after !== null;) {
        const page = await fetchPage(after, { type }, act.REPLAY_PAGE);
        if (run !== usageRun) return;
        got.push(...page.events);
        after = page.next_after_seq;
      }
      lists.push(got);
    }
    metrics.addMany(act.mergeBySeq(lists));
  }

  async function fetchPage(after, filter, limit) {
    const res = await fetch(`/api/sessions/${state.id}/events?${act.pageQuery(after, filter, limit)}`);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  }

  /** Loads the next page of the current listing. */
  async function more() {
    const request = act.nextPage(state, panel.count().entries);
    if (!request) return;
    const page = await fetchPage(request.after, request.filter, request.limit);
    const next = act.pageArrived(state, request, page);
    if (!next) return;
    add(page.events);
    set(next);
  }

  /** Replaces what the panel shows with the listing from `after` (with a server-side filter, or none). */
  async function reload(after, filter) {
    state = act.reloaded(state, after, filter);
    clearViews();
    await more();
  }

  async function jumpTo(seq) {
    if (!panel.log.entryOf(seq)) {
      await reload(act.jumpStart(seq), null);
      while (!panel.log.entryOf(seq) && state.listing.next !== null && state.listing.next < seq) await more();
    }
    selecting = true;
    try {
      panel.reveal(seq);
    } finally {
      selecting = false;
    }
  }

  // ---- the panel's filter; deep links; jumps from the other views ----
  root.addEventListener("log:filter", async (e) => {
    const reload0 = act.filterReload(state, e.detail, replay.state.played);
    if (reload0) await reload(0, reload0.filter);
  });
  $("more").addEventListener("click", () => more());
  root.addEventListener("log:select", (e) => {
    const seq = e.detail?.entry?.seq;
    if (seq !== undefined) history.replaceState(null, "", `#seq-${seq}`);
    if (!selecting && e.detail?.entry) player.seek(e.detail.entry.ts);
  });
  addEventListener("hashchange", () => {
    const seq = act.seqFromHash(location.hash);
    if (Number.isFinite(seq) && panel.log.rowOf(seq)?.seq !== seq) jumpTo(seq);
  });
  root.addEventListener("transcript:select", (e) => {
    const turn = transcript.transcript.turns.find((t) => t.seq === e.detail.seq);
    if (turn && audio) {
      player.seek(au.turnStart(turn, spans.spans));
      transcript.mark(turn);
    }
    jumpTo(e.detail.seq);
  });
  root.addEventListener("metrics:select", (e) => jumpTo(e.detail.seq));
  root.addEventListener("timeline:jump", (e) => {
    player.seek(e.detail.ts);
    if (e.detail.seq !== undefined) jumpTo(e.detail.seq);
  });

  // ---- replay: it owns the views from its first use on ----
  const replay = createReplay({
    fetchPage: async (after) => {
      const page = await fetchPage(after, null, act.REPLAY_PAGE);
      return { events: page.events, next: page.next_after_seq };
    },
    onReset: () => {
      state = act.detached(state, { newView: true });
      usageApart = false;
      usageRun += 1;
      clearViews();
    },
    onEntry: (e) => {
      add([e]);
      replayHeard(e.ts);
    },
    onState: (s) => {
      const view = act.replayView(s, span());
      replayControls.update(view);
      if (view.cursor !== null) timeline.setCursor(view.cursor);
      if (!s.playing && replayDriving) {
        replayDriving = false;
        player.pause();
      }
    },
  });
  // A replay at 1× or 2× plays the sound too: the player runs at its speed, and is put back on the entry
  // played when it drifted (the replay shortens long silences; the sound jumps over them with it).
  let replayDriving = false;
  function replayHeard(ts) {
    if (!audio || !replay.state.playing) return;
    const speed = replay.state.speed;
    if (speed > act.AUDIBLE_SPEED) {
      if (player.playing) player.pause();
      return;
    }
    replayDriving = true;
    if (player.rate !== speed) player.setRate(speed);
    if (Math.abs(player.pos() - ts) > act.REPLAY_DRIFT_MS) player.seek(ts);
    if (!player.playing && ts < audio.span.t1) player.play();
  }
  function startReplay() {
    if (state.replayStarted) return;
    set({ ...state, replayStarted: true });
    replay.reset();
  }
  root.addEventListener("replay:play", () => {
    startReplay();
    replay.play();
  });
  root.addEventListener("replay:pause", () => replay.pause());
  root.addEventListener("audio:play", () => {
    if (replay.state.playing) replay.pause();
    player.setRate(1);
    player.play();
  });
  root.addEventListener("audio:pause", () => player.pause());
  root.addEventListener("audio:seek", (e) => {
    player.seek(e.detail.ts);
    if (!player.playing) followAudio(e.detail.ts);
  });
  root.addEventListener("replay:step", () => {
    startReplay();
    replay.step();
  });
  root.addEventListener("replay:all", () => {
    startReplay();
    replay.instant();
  });
  root.addEventListener("replay:speed", (e) => {
    replay.setSpeed(e.detail.speed);
    if (replayDriving && e.detail.speed > act.AUDIBLE_SPEED) player.pause();
    else if (replayDriving) player.setRate(e.detail.speed);
  });
  root.addEventListener("replay:seek", (e) => {
    const whole = span();
    if (!whole) return;
    set({ ...state, replayStarted: true });
    const ts = act.scrubTime(e.detail.value, whole);
    player.seek(ts);
    replay.seek(ts);
  });

  // ---- audio: the lanes and the player; the list and the transcript follow what is heard ----
  /** The strip's span: the events' and the audio's together. */
  function span() {
    return au.unionSpan(act.timelineSpan(state.timeline), audio?.span ?? null);
  }

  function drawAudio() {
    const whole = span();
    if (!audio || !whole) return;
    if (state.timeline) timeline.setSpan(whole);
    lanes.draw({ model: audio, span: whole, spans: spans.spans, bargeIns: spans.bargeIns });
  }

  /** Selects the event heard at `pos` and marks its turn, among what the views hold. */
  function followAudio(pos) {
    const rows = panel.log.rows;
    const i = au.rowAtTime(rows, pos);
    const seq = i >= 0 ? rows[i].seq : null;
    if (seq !== null && seq !== followedSeq) {
      followedSeq = seq;
      selecting = true;
      try {
        panel.reveal(seq);
      } finally {
        selecting = false;
      }
    }
    transcript.mark(au.turnAtTime(transcript.transcript.turns, spans.spans, pos));
    // Past what is loaded of a session too big to load whole: the next page.
    if (i === rows.length - 1 && state.listing.next !== null && !loadingMore) {
      loadingMore = true;
      more().finally(() => {
        loadingMore = false;
      });
    }
  }

  /** Every frame the player plays, and on every seek. */
  function heard(pos, playing) {
    lanes.setCursor(pos);
    timeline.setCursor(pos);
    // A replay puts the events in the views itself; the player only follows it.
    if (playing && !replayDriving) followAudio(pos);
  }

  async function loadAudio() {
    const json = (r) => (r.ok ? r.json() : null);
    const base = `/api/sessions/${state.id}/audio`;
    const t = performance.now();
    const [listing, peaks] = await Promise.all([fetch(base).then(json), fetch(`${base}/peaks`).then(json)]);
    if (!listing?.tracks?.length) return;
    const fetched = performance.now();
    audio = au.audioModel(listing, peaks);
    if (!audio.span) return (audio = null);
    drawAudio();
    player.load(audio);
    // "Both lanes on screen", for the bench and the browser test: from asking for the audio to drawn, and
    // the part after the answers (decoding the peaks, the columns, the drawing).
    const drawn = performance.now();
    performance.measure("inspector:audio-lanes", { start: t, end: drawn });
    performance.measure("inspector:audio-lanes-draw", { start: fetched, end: drawn });
    // The turns' spans and barge-ins: a few event types, read apart from the list (which may hold a part).
    const lists = [];
    for (const type of au.SPAN_TYPES) {
      const got = [];
      for (let after = 0; after !== null;) {
        const page = await fetchPage(after, { type }, act.REPLAY_PAGE);
        got.push(...page.events);
        after = page.next_after_seq;
      }
      lists.push(got);
    }
    const user = audio.tracks.user;
    const userClock = user ? (ms) => au.clockAt(user.segments, ms / 1000) : null;
    spans = au.turnSpans(act.mergeBySeq(lists), { userClock });
    drawAudio();
  }

  // ---- the timeline strip ----
  function loadTimeline() {
    return fetch(`/api/sessions/${state.id}/timeline?samples=300`)
      .then((r) => (r.ok ? r.json() : null))
      .then((t) => {
        if (!t) return;
        set({ ...state, timeline: t });
        timeline.draw(t);
        drawAudio();
      });
  }

  // A live session's strip is read again as it grows: at most every 2 s, and once more after the last change.
  let timelineDue = null;
  function refreshTimeline() {
    if (timelineDue) return;
    timelineDue = setTimeout(() => loadTimeline().finally(() => (timelineDue = null)), 2000);
  }

  // ---- live follow ----
  function follow() {
    const source = new EventSource(`/api/sessions/${state.id}/live`);
    // While a replay runs it owns the views; what arrives meanwhile is in the store, where the replay reads.
    // The header counts what the stream delivers (each event once), replay or not; from the catch-up on, so
    // it does not count up from 0 over the figures the page was rendered with.
    let tally = act.EMPTY_TALLY;
    let caughtUp = false;
    source.addEventListener("event", (m) => {
      const entry = JSON.parse(m.data);
      tally = act.tallied(tally, entry);
      if (caughtUp) {
        showHeader(act.tallyHeader(tally));
        refreshTimeline();
      }
      if (!state.replayStarted) add([entry]);
    });
    source.addEventListener("caught-up", () => {
      caughtUp = true;
      showHeader(act.tallyHeader(tally));
      set({ ...state, ready: true });
    });
    source.addEventListener("session", (m) => {
      const { state: next, header } = act.sessionUpdated(state, JSON.parse(m.data));
      showHeader(header);
      // A live session's audio is read once it has ended (its last chunks are stored by then).
      const ended = state.live && !next.live;
      set(next);
      if (ended) loadAudio().catch((e) => console.warn("inspector: audio", e));
    });
    source.addEventListener("deleted", () => {
      source.close();
      set({ ...state, deleted: true });
    });
  }

  // ---- open in console: `/?seed=<id>` (config only) or `/?seed=<id>&conversation=1` ----
  $("seed-conversation").addEventListener("change", (e) => {
    $("open-in-console").href = act.openInConsoleHref(state.id, e.target.checked);
  });

  // For the browser tests (and the curious, in devtools): what the views hold, read-only.
  window.inspectorDebug = {
    get ready() {
      return state.ready;
    },
    seqs: () => [...seen],
    turns: () => transcript.transcript.turns.map((t) => ({ role: t.role, text: t.text })),
    listing: () => ({ ...state.listing }),
    replay: () => replay.state,
    /** The timeline strip's data: `{points, turns, errors}` (seqs and ts), or null before it loads. */
    timeline: () => state.timeline ?? null,
    audio: () =>
      audio && {
        tracks: Object.keys(audio.tracks),
        span: audio.span,
        strip: span(),
        spans: spans.spans.length,
        bargeIns: spans.bargeIns.length,
        pos: player.pos(),
        playing: player.playing,
      },
    /** The transcript turn of an item (or, without one, of a response): `{seq, role}`. */
    turnOf: (itemId, responseId) => {
      const t = transcript.transcript.turns.find(
        (x) => (itemId && x.itemId === itemId) || (!itemId && responseId && x.responseId === responseId),
      );
      return t && { seq: t.seq, role: t.role };
    },
  };

  async function start() {
    const json = (r) => (r.ok ? r.json() : null);
    fetch(`/api/sessions/${state.id}/types`)
      .then(json)
      .then((t) => set({ ...state, types: t?.types?.map((x) => x.type) ?? null }));
    loadTimeline();
    loadAudio().catch((e) => console.warn("inspector: audio", e));
    if (state.live) {
      // The stream starts with everything already committed, in commit order, then follows.
      state = act.detached(state);
      return follow();
    }
    const plan = act.startLoad(state, act.seqFromHash(location.hash));
    usageApart = !plan.whole;
    const usage = usageApart ? loadUsage() : null;
    await reload(plan.after, null);
    if (plan.whole) while (state.listing.next !== null) await more();
    if (plan.reveal !== null) await jumpTo(plan.reveal);
    await usage;
  }
  start().then(() => {
    if (!state.live) set({ ...state, ready: true });
  });
}

mount(document.getElementById("inspector"));
