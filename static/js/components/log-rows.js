// The log panel's rows: the one-line summary of a row, and the pool of row elements that a virtualized
// list reuses as it scrolls (a row is repainted only when what it shows changed). Text via textContent.

import { formatRelTime } from "../lib/eventlog.js";
import { el, short } from "../lib/dom.js";

const ARROW = { client: "→", server: "←", system: "•" };

/** One line of context per row: what a reader scans for after the type. */
export function summary(row) {
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

function rowClass(row, selected) {
  return (
    `lp-row lp-d-${row.direction}` +
    (row.kind === "fold" ? " lp-fold" : "") +
    (row.level ? ` lp-${row.level}` : "") +
    (row.errorSeqs.length ? " lp-cause" : "") +
    (selected ? " lp-sel" : "")
  );
}

/** The rows drawn in `layer`, from a pool of elements. → `{ draw, indexAt }`. */
export function createRows(layer, log) {
  const pool = [];

  function rowElement(i) {
    if (!pool[i]) {
      pool[i] = el(
        "div",
        { class: "lp-row", role: "listitem" },
        el("span", "lp-seq"),
        el("span", "lp-time"),
        el("span", "lp-dir"),
        el("span", "lp-type"),
        el("span", "lp-sum"),
      );
    }
    return pool[i];
  }

  // `gen` bumps when every row must be redrawn (t0 changed, the log was cleared, the selection moved).
  function paint(node, row, selected, gen) {
    const isSelected = row.index === selected;
    const key = `${gen}:${row.index}:${row.version}:${isSelected}`;
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
    node.className = rowClass(row, isSelected);
  }

  return {
    /** Draws `count` rows from position `first`; `rowAt(position)` → row. */
    draw({ first, count, rowAt, selected, gen }) {
      for (let i = 0; i < count; i++) {
        const node = rowElement(i);
        paint(node, rowAt(first + i), selected, gen);
        if (node.parentNode !== layer || layer.children[i] !== node) layer.append(node);
      }
      while (layer.children.length > count) layer.lastChild.remove();
    },
    /** The row index of a clicked element inside a row, or undefined. */
    indexAt(target) {
      return target.closest(".lp-row")?._row;
    },
  };
}
