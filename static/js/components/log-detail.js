// The log panel's detail pane for one row: title, copy button, error ↔ cause links, and the event as a JSON
// tree (a fold row: its assembled text and its members). `renderDetail` returns nodes; `createDetailPane`
// keeps them in the panel's pane and follows the selected row as it grows.

import { button, el } from "../lib/dom.js";
import { formatRelTime } from "../lib/eventlog.js";
import { renderJson } from "./json-tree.js";

const ARROW = { client: "→", server: "←", system: "•" };
const MEMBERS_SHOWN = 200; // a long fold lists its first members; the rest on demand

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // The Clipboard API needs a secure context and focus; the old way still works on http://localhost.
    const ta = el("textarea");
    ta.value = text;
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand("copy");
    ta.remove();
    return ok;
  }
}

function memberNode(entry, log, open) {
  const d = el("details", "lp-member");
  d.open = open;
  const s = el("summary");
  const delta = entry.event?.delta;
  const text = typeof delta === "string" ? JSON.stringify(delta.length > 80 ? delta.slice(0, 80) + "…" : delta) : "";
  s.textContent = `#${entry.seq} ${formatRelTime(log.relTime(entry.ts))} ${text}`;
  d.append(s);
  const fill = () => d.childElementCount < 2 && d.append(renderJson(entry.event, { open: 1 }));
  if (d.open) fill();
  else d.addEventListener("toggle", fill, { once: true });
  return d;
}

function links(row, log, onReveal) {
  const out = [];
  if (row.level === "error") {
    const causeId = row.entries[0].event?.error?.event_id;
    const line = el("div", "lp-link-line");
    if (row.causeSeq !== undefined) {
      const jump = button(`#${row.causeSeq} ${log.rowOf(row.causeSeq)?.type ?? ""}`, "lp-link");
      jump.addEventListener("click", () => onReveal(row.causeSeq));
      line.append("Caused by ", jump);
    } else if (causeId) {
      line.append(`Caused by client event ${causeId} (not in this log)`);
    }
    if (line.childNodes.length) out.push(line);
  }
  if (row.errorSeqs.length) {
    const line = el("div", "lp-link-line");
    line.append("Caused ");
    for (const s of row.errorSeqs) {
      const jump = button(`error #${s}`, "lp-link lp-link-err");
      jump.addEventListener("click", () => onReveal(s));
      line.append(jump, " ");
    }
    out.push(line);
  }
  return out;
}

/**
 * Nodes for `row`. `selectedSeq` opens that member of a fold; `onReveal(seq)` follows a link,
 * `onClose()` and `onCopy(seq)` report the buttons. A fold's array has `update()` to follow its growth.
 */
export function renderDetail(row, { log, selectedSeq, onReveal, onClose, onCopy }) {
  const head = el("div", "lp-dhead");
  const title = el("span", "lp-dtitle", titleText(row, log));
  const copy = button("Copy JSON", "lp-copy");
  copy.addEventListener("click", async () => {
    const value = row.kind === "fold" ? row.entries.map((e) => e.event) : row.entries[0].event;
    const ok = await copyText(JSON.stringify(value, null, 2));
    copy.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => (copy.textContent = "Copy JSON"), 1200);
    onCopy(row.seq);
  });
  const close = button("×", "lp-close", "Close");
  close.addEventListener("click", onClose);
  head.append(title, copy, close);
  const parts = [head, ...links(row, log, onReveal)];

  if (row.kind !== "fold") {
    parts.push(renderJson(row.entries[0].event, { open: 2 }));
    return parts;
  }
  const assembled = el("pre", "lp-assembled", row.text);
  if (!row.bytes) parts.push(assembled);
  const members = el("div", "lp-members");
  let shown = 0;
  let more = null;
  const addMembers = (limit) => {
    const upto = Math.min(row.entries.length, limit);
    for (; shown < upto; shown++) {
      members.append(memberNode(row.entries[shown], log, row.entries[shown].seq === selectedSeq));
    }
    more?.remove();
    more = null;
    if (shown < row.entries.length) {
      more = button(`${row.entries.length - shown} more…`, "lp-more");
      more.addEventListener("click", () => addMembers(shown + MEMBERS_SHOWN));
      members.append(more);
    }
  };
  addMembers(MEMBERS_SHOWN);
  parts.push(members);
  // A fold still streaming grows in place, so open members and the pane's scroll position survive.
  parts.update = () => {
    title.textContent = titleText(row, log);
    assembled.textContent = row.text;
    if (!more) addMembers(Math.max(shown, MEMBERS_SHOWN));
    else more.textContent = `${row.entries.length - shown} more…`;
  };
  return parts;
}

function titleText(row, log) {
  return (
    `#${row.seq} ${formatRelTime(log.relTime(row.ts))} ${ARROW[row.direction] ?? ""} ${row.direction} ${row.type}` +
    (row.kind === "fold" ? ` ×${row.count}` : "")
  );
}

/**
 * The pane `element` showing one row at a time. `show(row, selectedSeq)` renders it (no row: hides the
 * pane); `follow(row, selectedSeq)` after a render: a fold that grew is updated in place, another row that
 * changed (a cause got its error) is rendered again. The options are `renderDetail`'s.
 */
export function createDetailPane(element, { log, onReveal, onClose, onCopy }) {
  let version = -1;
  let update = null;
  element.hidden = true;

  function show(row, selectedSeq) {
    element.hidden = !row;
    version = row ? row.version : -1;
    update = null;
    if (!row) return element.replaceChildren();
    const parts = renderDetail(row, { log, selectedSeq, onReveal, onClose, onCopy });
    update = parts.update ?? null;
    element.replaceChildren(...parts);
  }

  function follow(row, selectedSeq) {
    if (!row || row.version === version) return;
    if (!update) return show(row, selectedSeq);
    version = row.version;
    update();
  }

  return { show, follow };
}
