// The event log panel: a virtualized list over lib/eventlog.js (only the rows in view exist in the DOM),
// filter controls, and a detail pane with the selected row's JSON. All event text goes in via textContent.
// The pieces: log-bar.js (controls), log-rows.js (row elements), log-detail.js (the pane), lib/log-view.js
// (the rows the filter shows) and lib/virtual-list.js (which of them a scroll offset shows). This module
// keeps the panel's state and decides.

import { el, emit } from "../lib/dom.js";
import { createEventLog } from "../lib/eventlog.js";
import { createLogView } from "../lib/log-view.js";
import * as vl from "../lib/virtual-list.js";
import { createBar } from "./log-bar.js";
import { createDetailPane } from "./log-detail.js";
import { createRows } from "./log-rows.js";

const REFILTER_MS = 250; // a growing fold row may start to match the search: refilter at most 4× a second
const WARM_ROWS = 5000; // lowercase search text built per idle callback

/**
 * Mounts the panel in `element`. Options: `t0` (ms), `rowHeight` (px, default 22), `filter`, `paused`.
 */
export function mount(element, { t0, rowHeight = 22, filter = {}, paused = false } = {}) {
  const log = createEventLog({ t0 });
  const view = createLogView(log, filter); // the filter, and the rows it shows
  const state = {
    selected: -1, // row index
    selectedSeq: undefined, // the member of a fold row that was asked for
    paused,
    follow: true, // scrolled to the end: new rows keep it there
    gen: 0, // bumps whenever every visible row must be redrawn
  };
  const queued = { render: false, refilter: null, warm: false };

  element.classList.add("lp");
  element.style.setProperty("--lp-row", `${rowHeight}px`);
  element.replaceChildren();
  const bar = createBar({
    filter: (f) => {
      setFilter(f);
      emit(element, "log:filter", { ...view.filter });
    },
    pause: (p) => {
      setPaused(p);
      emit(element, "log:pause", { paused: state.paused });
    },
    clear: () => {
      clear();
      emit(element, "log:clear");
    },
    nextError: () => {
      const next = log.errors.find((r) => r.index > state.selected) ?? log.errors[0];
      if (next) reveal(next.seq);
    },
    types: () => log.types(),
  });
  const list = el("div", { class: "lp-list", tabIndex: 0, role: "list", "aria-label": "Events" });
  const spacer = el("div", "lp-spacer");
  const layer = el("div", "lp-rows");
  const empty = el("div", "lp-empty", "No events yet.");
  list.append(empty, spacer, layer);
  const detail = el("div", "lp-detail");
  element.append(bar.element, list, detail);
  const rows = createRows(layer, log);
  const pane = createDetailPane(detail, {
    log,
    onReveal: (seq) => reveal(seq),
    onClose: () => select(-1),
    onCopy: (seq) => emit(element, "log:copy", { seq }),
  });

  // ---- rendering, once per frame ----
  function queueRender() {
    if (queued.render) return;
    queued.render = true;
    requestAnimationFrame(render);
  }

  function render() {
    queued.render = false;
    pane.follow(log.rows[state.selected], state.selectedSeq);
    const n = view.count();
    spacer.style.height = `${vl.totalHeight(n, rowHeight)}px`;
    empty.hidden = log.rows.length > 0;
    if (state.follow && !state.paused) list.scrollTop = list.scrollHeight;
    const { first, last, offset } = vl.visibleRange({
      scrollTop: list.scrollTop,
      viewportHeight: vl.viewportHeight(list.clientHeight, window.innerHeight),
      rowHeight,
      count: n,
    });
    layer.style.transform = `translateY(${offset}px)`;
    rows.draw({ first, count: last - first, rowAt: view.rowAt, selected: state.selected, gen: state.gen });
    bar.count({ shown: n, rows: log.rows.length, events: log.size, errors: log.errors.length });
  }

  // Lowercased search text is built in idle time so the first search is as fast as the next ones.
  function queueWarm() {
    if (queued.warm) return;
    queued.warm = true;
    const idle = window.requestIdleCallback ?? ((fn) => setTimeout(fn, 50));
    idle(() => {
      queued.warm = false;
      if (log.warmSearch(WARM_ROWS) > 0) queueWarm();
    });
  }

  function scrollToPosition(pos) {
    // The spacer is sized at render, once a frame: rows added since would not be scrollable to yet, and the
    // browser would cut scrollTop to the old height (a deep link then showed the list's top, nothing selected).
    spacer.style.height = `${vl.totalHeight(view.count(), rowHeight)}px`;
    const top = vl.scrollToRow({
      position: pos,
      rowHeight,
      scrollTop: list.scrollTop,
      viewportHeight: list.clientHeight,
    });
    if (top !== null) list.scrollTop = top;
    state.follow = false;
  }

  // ---- filtering ----
  // Keeps the reader's place across a filter change: the selected row if it stays, else the top row.
  function refilter() {
    clearTimeout(queued.refilter);
    queued.refilter = null;
    const topRow = view.rowAt(vl.positionAt(list.scrollTop, rowHeight));
    view.refilter();
    state.gen++;
    if (!state.follow || state.paused) {
      const sel = view.positionOf(state.selected);
      if (sel >= 0) scrollToPosition(sel);
      else if (topRow) list.scrollTop = view.nearest(topRow.index) * rowHeight;
    }
    queueRender();
  }

  function setFilter(next) {
    view.setFilter(next);
    refilter();
  }

  // ---- adding ----
  function addOne(entry) {
    if (view.added(log.add(entry)) && !queued.refilter) queued.refilter = setTimeout(refilter, REFILTER_MS);
  }

  function added() {
    queueRender();
    queueWarm();
  }

  // ---- selection ----
  function select(index, seq) {
    state.selected = index;
    state.selectedSeq = seq;
    state.gen++;
    pane.show(log.rows[index], seq);
    queueRender();
    const row = log.rows[index];
    if (row) emit(element, "log:select", { entry: log.entryOf(seq ?? row.seq) ?? row.entries[0], row });
  }

  function reveal(seq) {
    const row = log.rowOf(seq);
    if (!row) return false;
    if (view.positionOf(row.index) < 0) {
      setFilter({});
      bar.show({ filter: view.filter, paused: state.paused });
      emit(element, "log:filter", { ...view.filter });
    }
    select(row.index, seq);
    scrollToPosition(view.positionOf(row.index));
    queueRender();
    return true;
  }

  function setPaused(p) {
    state.paused = !!p;
    bar.showPaused(state.paused);
    if (!state.paused) {
      state.follow = true;
      queueRender();
    }
  }

  function clear() {
    log.clear();
    view.cleared();
    state.selected = -1;
    state.selectedSeq = undefined;
    state.follow = true;
    state.gen++;
    pane.show(undefined);
    queueRender();
  }

  // A list that gets shorter (a smaller window) keeps its scrollTop: draw again, so a log that follows the
  // end still shows it, and the rows that came into view are there.
  new ResizeObserver(() => queueRender()).observe(list);

  // ---- what the user does in the list ----
  // Scroll events already come once per frame: painting right away avoids a blank frame on fast scrolls.
  list.addEventListener("scroll", () => {
    state.follow = vl.atEnd({
      scrollTop: list.scrollTop,
      viewportHeight: list.clientHeight,
      scrollHeight: list.scrollHeight,
      rowHeight,
    });
    render();
  });
  layer.addEventListener("click", (e) => {
    const index = rows.indexAt(e.target);
    if (index !== undefined) select(index);
  });
  list.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp" && e.key !== "Escape") return;
    e.preventDefault();
    if (e.key === "Escape") return select(-1);
    const next = vl.step(view.positionOf(state.selected), e.key === "ArrowDown" ? 1 : -1, view.count());
    const row = view.rowAt(next);
    if (!row) return;
    select(row.index);
    scrollToPosition(next);
  });

  bar.show({ filter: view.filter, paused: state.paused });
  queueRender();

  return {
    add(entry) {
      addOne(entry);
      added();
    },
    addMany(entries) {
      for (const e of entries) addOne(e);
      added();
    },
    clear,
    setFilter(next) {
      setFilter(next);
      bar.show({ filter: view.filter, paused: state.paused });
    },
    setPaused,
    reveal,
    count: () => ({ entries: log.size, rows: log.rows.length, shown: view.count() }),
    setT0(ts) {
      log.setT0(ts);
      state.gen++;
      queueRender();
    },
    log,
  };
}
