// The event log panel: a virtualized list over lib/eventlog.js (only the rows in view exist in the DOM),
// filter controls, and a detail pane with the selected row's JSON. All event text goes in via textContent.

import { createEventLog, formatRelTime } from "../lib/eventlog.js";
import { renderDetail } from "./log-detail.js";

const DIRS = [
  ["client", "→", "sent by the browser"],
  ["server", "←", "received from the server"],
  ["system", "•", "recorded by the console"],
];
const ARROW = Object.fromEntries(DIRS.map(([d, a]) => [d, a]));
const OVERSCAN = 8;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(text, className, title) {
  const b = el("button", className, text);
  b.type = "button";
  if (title) b.title = title;
  return b;
}

const short = (s, n = 160) => (s.length > n ? s.slice(0, n) + "…" : s);

// One line of context per row: what a reader scans for after the type.
function summary(row) {
  if (row.kind === "fold") {
    const body = row.bytes ? `${row.bytes.toLocaleString()} bytes of audio` : JSON.stringify(short(row.text));
    return `×${row.count} ${body}`;
  }
  const e = row.entries[0].event ?? {};
  if (row.type === "error") {
    return `${e.error?.code ?? e.error?.type ?? ""} ${short(String(e.error?.message ?? ""))}`.trim();
  }
  const parts = [];
  if (row.type === "response.done" && e.response) {
    parts.push(String(e.response.status ?? ""));
    if (e.response.usage) parts.push(`${e.response.usage.total_tokens ?? 0} tok`);
  }
  const { item_id, response_id, call_id, event_id } = row.ids;
  if (item_id) parts.push(`item ${item_id}`);
  if (response_id) parts.push(`resp ${response_id}`);
  if (call_id) parts.push(`call ${call_id}`);
  if (event_id && row.direction === "client") parts.push(`evt ${event_id}`);
  if (row.errorSeqs.length) parts.push(`⚠ caused error #${row.errorSeqs.join(", #")}`);
  return parts.join(" · ");
}

/**
 * Mounts the panel in `element`. Options: `t0` (ms), `rowHeight` (px, default 22), `filter`, `paused`.
 */
export function mount(element, { t0, rowHeight = 22, filter = {}, paused = false } = {}) {
  const log = createEventLog({ t0 });
  let f = normalize(filter);
  let shown = null; // null: every row (no filter), else ascending row indices
  let selected = -1; // row index
  let selectedSeq;
  let isPaused = paused;
  let follow = true;
  let renderQueued = false;
  let refilterQueued = null;
  let warmQueued = false;
  let gen = 0; // bumps when every visible row must be redrawn (t0, clear)

  element.classList.add("lp");
  element.style.setProperty("--lp-row", `${rowHeight}px`);
  element.replaceChildren();

  // ---- controls ----
  const bar = el("div", "lp-bar");
  const dirBoxes = {};
  const dirs = el("span", "lp-dirs");
  for (const [d, arrow, title] of DIRS) {
    const label = el("label", `lp-dir-toggle lp-d-${d}`);
    label.title = title;
    const box = el("input");
    box.type = "checkbox";
    box.checked = true;
    dirBoxes[d] = box;
    label.append(box, ` ${arrow} ${d}`);
    dirs.append(label);
  }
  const typeInput = el("input", "lp-f-type");
  typeInput.type = "search";
  typeInput.placeholder = "type: response, error, session*";
  typeInput.title = "Exact type, a dotted prefix (response.output_text), raw prefix with * (resp*), or several, comma separated";
  const datalistId = `lp-types-${Math.random().toString(36).slice(2)}`;
  const datalist = el("datalist");
  datalist.id = datalistId;
  typeInput.setAttribute("list", datalistId);
  const textInput = el("input", "lp-f-text");
  textInput.type = "search";
  textInput.placeholder = "search JSON";
  const pauseLabel = el("label", "lp-pause");
  const pauseBox = el("input");
  pauseBox.type = "checkbox";
  pauseLabel.append(pauseBox, " pause scroll");
  const errorsBtn = button("errors: 0", "lp-errors", "Jump to the next error");
  const clearBtn = button("Clear", "lp-clear", "Clear the log view");
  const countOut = el("span", "lp-count");
  bar.append(dirs, typeInput, datalist, textInput, pauseLabel, errorsBtn, clearBtn, countOut);

  // ---- list ----
  const list = el("div", "lp-list");
  list.tabIndex = 0;
  list.setAttribute("role", "list");
  list.setAttribute("aria-label", "Events");
  const spacer = el("div", "lp-spacer");
  const layer = el("div", "lp-rows");
  const empty = el("div", "lp-empty", "No events yet.");
  list.append(empty, spacer, layer);

  // ---- detail ----
  const detail = el("div", "lp-detail");
  detail.hidden = true;

  element.append(bar, list, detail);

  const emit = (name, detailValue) =>
    element.dispatchEvent(new CustomEvent(name, { detail: detailValue, bubbles: true }));

  function normalize(x = {}) {
    const ds = x.directions ? [...x.directions] : ["client", "server", "system"];
    return { directions: ds, type: x.type ?? "", text: x.text ?? "" };
  }
  const unfiltered = () => f.directions.length === 3 && !f.type.trim() && !f.text.trim();
  const shownCount = () => (shown ? shown.length : log.rows.length);
  const rowAt = (i) => log.rows[shown ? shown[i] : i];

  function syncControls() {
    for (const [d, box] of Object.entries(dirBoxes)) box.checked = f.directions.includes(d);
    typeInput.value = f.type;
    textInput.value = f.text;
    pauseBox.checked = isPaused;
  }

  // Keeps the reader's place across a filter change: the selected row if it stays, else the top row.
  function refilter() {
    clearTimeout(refilterQueued);
    refilterQueued = null;
    const topRow = rowAt(Math.floor(list.scrollTop / rowHeight));
    shown = unfiltered() ? null : Array.from(log.filter(f));
    gen++;
    if (!follow || isPaused) {
      const sel = positionOf(selected);
      if (sel >= 0) scrollToPosition(sel);
      else if (topRow) list.scrollTop = lowerBound(topRow.index) * rowHeight;
    }
    queueRender();
  }

  function lowerBound(index) {
    if (!shown) return index;
    let lo = 0, hi = shown.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (shown[mid] < index) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  function queueRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(render);
  }

  // Lowercased search text is built in idle time so the first search is as fast as the next ones.
  function queueWarm() {
    if (warmQueued) return;
    warmQueued = true;
    const idle = window.requestIdleCallback ?? ((fn) => setTimeout(fn, 50));
    idle(() => {
      warmQueued = false;
      if (log.warmSearch(5000) > 0) queueWarm();
    });
  }

  // ---- rendering ----
  const pool = []; // row elements, reused
  function rowElement(i) {
    let node = pool[i];
    if (!node) {
      node = el("div", "lp-row");
      node.setAttribute("role", "listitem");
      node.append(el("span", "lp-seq"), el("span", "lp-time"), el("span", "lp-dir"), el("span", "lp-type"), el("span", "lp-sum"));
      pool[i] = node;
    }
    return node;
  }

  function paintRow(node, row) {
    const key = `${gen}:${row.index}:${row.version}:${row.index === selected}`;
    if (node._key === key) return;
    node._key = key;
    node._row = row.index;
    const [seq, time, dir, type, sum] = node.children;
    seq.textContent = String(row.seq);
    time.textContent = formatRelTime(log.relTime(row.ts));
    dir.textContent = ARROW[row.direction] ?? "?";
    dir.title = row.direction;
    type.textContent = row.type;
    sum.textContent = summary(row);
    node.className = `lp-row lp-d-${row.direction}` + (row.kind === "fold" ? " lp-fold" : "") +
      (row.level ? ` lp-${row.level}` : "") + (row.errorSeqs.length ? " lp-cause" : "") +
      (row.index === selected ? " lp-sel" : "");
  }

  function render() {
    renderQueued = false;
    // The selected row changed (a fold grew, a cause got its error): a fold grows in place, else redraw.
    const sel = log.rows[selected];
    if (sel && sel.version !== detailVersion) {
      if (detailUpdate) {
        detailVersion = sel.version;
        detailUpdate();
      } else showDetail();
    }
    const n = shownCount();
    spacer.style.height = `${n * rowHeight}px`;
    empty.hidden = log.rows.length > 0;
    if (follow && !isPaused) list.scrollTop = list.scrollHeight;
    const top = list.scrollTop;
    // Never trust an unsized host: at most two screens of rows, whatever the list's height claims.
    const height = Math.min(list.clientHeight || 600, window.innerHeight * 2);
    const first = Math.max(0, Math.floor(top / rowHeight) - OVERSCAN);
    const last = Math.min(n, Math.ceil((top + height) / rowHeight) + OVERSCAN);
    layer.style.transform = `translateY(${first * rowHeight}px)`;
    const count = Math.max(0, last - first);
    for (let i = 0; i < count; i++) {
      const node = rowElement(i);
      paintRow(node, rowAt(first + i));
      if (node.parentNode !== layer || layer.children[i] !== node) layer.append(node);
    }
    while (layer.children.length > count) layer.lastChild.remove();
    countOut.textContent = `${n.toLocaleString()} / ${log.rows.length.toLocaleString()} rows · ${log.size.toLocaleString()} events`;
    errorsBtn.textContent = `errors: ${log.errors.length}`;
    errorsBtn.disabled = log.errors.length === 0;
  }

  // Scroll events already come once per frame: painting right away avoids a blank frame on fast scrolls.
  list.addEventListener("scroll", () => {
    follow = list.scrollTop + list.clientHeight >= list.scrollHeight - rowHeight;
    render();
  });

  // ---- adding ----
  let matcher = log.matcher(f);
  function addOne(entry) {
    const { row, created } = log.add(entry);
    if (!row) return;
    if (shown) {
      if (created) {
        if (matcher(row)) shown.push(row.index);
      } else if (f.text.trim() && !refilterQueued) {
        // A growing fold row may start to match the search: refilter, at most 4× a second.
        refilterQueued = setTimeout(refilter, 250);
      }
    }
  }
  function afterAdd() {
    queueRender();
    queueWarm();
  }

  // ---- detail pane (log-detail.js builds it; the panel decides when) ----
  let detailUpdate = null;
  let detailVersion = -1;
  function showDetail() {
    const row = log.rows[selected];
    detail.hidden = !row;
    detailVersion = row ? row.version : -1;
    detailUpdate = null;
    if (!row) return detail.replaceChildren();
    const parts = renderDetail(row, {
      log,
      selectedSeq,
      onReveal: reveal,
      onClose: () => select(-1),
      onCopy: (seq) => emit("log:copy", { seq }),
    });
    detailUpdate = parts.update ?? null;
    detail.replaceChildren(...parts);
  }

  function select(index, seq) {
    selected = index;
    selectedSeq = seq;
    gen++;
    showDetail();
    queueRender();
    const row = log.rows[index];
    if (row) emit("log:select", { entry: log.entryOf(seq ?? row.seq) ?? row.entries[0], row });
  }

  layer.addEventListener("click", (e) => {
    const node = e.target.closest(".lp-row");
    if (node && node._row !== undefined) select(node._row);
  });

  function positionOf(index) {
    if (index < 0) return -1;
    if (!shown) return index < log.rows.length ? index : -1;
    const pos = lowerBound(index);
    return shown[pos] === index ? pos : -1;
  }

  function scrollToPosition(pos) {
    const top = pos * rowHeight;
    if (top < list.scrollTop || top + rowHeight > list.scrollTop + list.clientHeight) {
      list.scrollTop = Math.max(0, top - list.clientHeight / 2);
    }
    follow = false;
  }

  list.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp" && e.key !== "Escape") return;
    e.preventDefault();
    if (e.key === "Escape") return select(-1);
    const pos = positionOf(selected);
    const next = Math.max(0, Math.min(shownCount() - 1, pos < 0 ? 0 : pos + (e.key === "ArrowDown" ? 1 : -1)));
    const row = rowAt(next);
    if (!row) return;
    select(row.index);
    scrollToPosition(next);
  });

  function reveal(seq) {
    const row = log.rowOf(seq);
    if (!row) return false;
    if (positionOf(row.index) < 0) {
      f = normalize({});
      matcher = log.matcher(f);
      syncControls();
      refilter();
      emit("log:filter", { ...f });
    }
    select(row.index, seq);
    scrollToPosition(positionOf(row.index));
    queueRender();
    return true;
  }

  // ---- control wiring (actions go up as events; the state changes here) ----
  let debounce = null;
  function fromControls() {
    f = {
      directions: DIRS.map(([d]) => d).filter((d) => dirBoxes[d].checked),
      type: typeInput.value,
      text: textInput.value,
    };
    matcher = log.matcher(f);
    refilter();
    emit("log:filter", { ...f });
  }
  const later = () => {
    clearTimeout(debounce);
    debounce = setTimeout(fromControls, 120);
  };
  for (const box of Object.values(dirBoxes)) box.addEventListener("change", fromControls);
  typeInput.addEventListener("input", later);
  textInput.addEventListener("input", later);
  typeInput.addEventListener("focus", () => {
    datalist.replaceChildren(...log.types().map((t) => Object.assign(el("option"), { value: t })));
  });
  pauseBox.addEventListener("change", () => {
    setPaused(pauseBox.checked);
    emit("log:pause", { paused: isPaused });
  });
  clearBtn.addEventListener("click", () => {
    clear();
    emit("log:clear");
  });
  errorsBtn.addEventListener("click", () => {
    const next = log.errors.find((r) => r.index > selected) ?? log.errors[0];
    if (next) reveal(next.seq);
  });

  function setPaused(p) {
    isPaused = !!p;
    pauseBox.checked = isPaused;
    if (!isPaused) {
      follow = true;
      queueRender();
    }
  }

  function clear() {
    log.clear();
    shown = unfiltered() ? null : [];
    selected = -1;
    selectedSeq = undefined;
    follow = true;
    gen++;
    showDetail();
    queueRender();
  }

  syncControls();
  if (!unfiltered()) shown = [];
  queueRender();

  return {
    add(entry) {
      addOne(entry);
      afterAdd();
    },
    addMany(entries) {
      for (const e of entries) addOne(e);
      afterAdd();
    },
    clear,
    setFilter(next) {
      f = normalize(next);
      matcher = log.matcher(f);
      syncControls();
      refilter();
    },
    setPaused,
    reveal,
    count: () => ({ entries: log.size, rows: log.rows.length, shown: shownCount() }),
    setT0(ts) {
      log.setT0(ts);
      gen++;
      queueRender();
    },
    log,
  };
}
