// The transcript view: renders lib/transcript.js turns (user, assistant, tool calls inline). Only turns
// whose `rev` changed are repainted, once per animation frame. Text goes in via textContent.

import { el, emit } from "../lib/dom.js";
import { createTranscript } from "../lib/transcript.js";

const LABEL = { user: "User", assistant: "Assistant", system: "System", tool: "Tool call" };

function prettyJson(s) {
  if (typeof s !== "string" || s === "") return s ?? "";
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s; // still streaming, or not JSON: show it as it came
  }
}

function badges(turn) {
  const out = [];
  if (turn.source === "audio") out.push(["audio", turn.role === "user" ? "spoken" : "audio"]);
  if (turn.images) out.push(["image", turn.images === 1 ? "image" : `${turn.images} images`]);
  if (turn.status !== "completed") out.push([turn.status, turn.status.replace("_", " ")]);
  if (turn.truncated) out.push(["truncated", `truncated at ${turn.audioEndMs ?? "?"} ms`]);
  if (turn.transcriptionError) out.push(["failed", "transcription failed"]);
  return out;
}

function paint(node, turn) {
  node.className = `tv-turn tv-${turn.role} tv-s-${turn.status}`;
  node.dataset.seq = String(turn.seq);
  const head = el("div", "tv-head");
  head.append(el("span", "tv-role", LABEL[turn.role] ?? turn.role));
  for (const [cls, text] of badges(turn)) head.append(el("span", `tv-badge tv-b-${cls}`, text));
  const parts = [head];
  if (turn.kind === "function_call") {
    const call = el("div", "tv-call");
    call.append(el("span", "tv-fn", turn.name ?? "(unnamed)"), el("pre", "tv-args", prettyJson(turn.arguments ?? "")));
    parts.push(call);
    const out = el("div", "tv-output");
    if (turn.output === undefined) out.append(el("span", "tv-wait", "waiting for function_call_output…"));
    else out.append(el("span", "tv-arrow", "→ "), el("pre", "tv-out", prettyJson(turn.output)));
    parts.push(out);
  } else {
    let text = turn.text;
    let cls = "tv-text";
    if (!text) {
      cls += " tv-placeholder";
      text = turn.transcriptionError
        ? String(turn.transcriptionError.message ?? "transcription failed")
        : turn.source === "audio"
          ? turn.status === "in_progress"
            ? "speaking…"
            : "(audio, no transcript)"
          : "…";
    }
    parts.push(el("div", cls, text));
  }
  if (turn.error)
    parts.push(el("div", "tv-error", `${turn.error.code ?? turn.error.type ?? "error"}: ${turn.error.message ?? ""}`));
  node.replaceChildren(...parts);
}

/**
 * Mounts the view in `element`. Handle: `{add, addMany, clear, mark(turn), transcript}`; `mark(turn)` shows
 * which turn is being heard (the inspector's player), and scrolls it into view; `mark(undefined)` none.
 */
export function mount(element) {
  const transcript = createTranscript();
  const nodes = new Map(); // turn → element
  const painted = new Map(); // turn → rev painted
  let queued = false;
  let marked; // the turn being heard

  element.classList.add("tv");
  element.replaceChildren();
  const emptyNode = el("p", "tv-empty", "No conversation yet.");
  element.append(emptyNode);

  // Scrolled to the end (or not scrolled away from it): new turns, and a resize, keep it there. Measured
  // when the reader scrolls, not at render: a smaller window leaves the end out of view until then.
  let follow = true;
  element.addEventListener("scroll", () => {
    follow = element.scrollTop + element.clientHeight >= element.scrollHeight - 40;
  });
  new ResizeObserver(() => {
    if (follow) element.scrollTop = element.scrollHeight;
  }).observe(element);

  function render() {
    queued = false;
    const turns = transcript.turns;
    const alive = new Set(turns);
    for (const [turn, node] of nodes) {
      if (!alive.has(turn)) {
        node.remove();
        nodes.delete(turn);
        painted.delete(turn);
      }
    }
    let prev = emptyNode;
    emptyNode.hidden = turns.length > 0;
    for (const turn of turns) {
      let node = nodes.get(turn);
      if (!node) {
        node = el("div");
        nodes.set(turn, node);
      }
      if (painted.get(turn) !== turn.rev) {
        paint(node, turn);
        painted.set(turn, turn.rev);
      }
      node.classList.toggle("tv-now", turn === marked);
      // Keep DOM order equal to conversation order (an item may be inserted before others).
      if (prev.nextSibling !== node) prev.after(node);
      prev = node;
    }
    if (follow) element.scrollTop = element.scrollHeight;
  }

  function queue() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(render);
  }

  element.addEventListener("click", (e) => {
    const node = e.target.closest(".tv-turn");
    if (!node || !element.contains(node)) return;
    // Selecting text in a turn should not jump the log.
    if (String(window.getSelection?.() ?? "")) return;
    emit(element, "transcript:select", { seq: Number(node.dataset.seq) });
  });

  return {
    add(entry) {
      if (transcript.add(entry)) queue();
    },
    addMany(entries) {
      if (transcript.addMany(entries)) queue();
    },
    clear() {
      transcript.clear();
      queue();
    },
    mark(turn) {
      if (turn === marked) return;
      nodes.get(marked)?.classList.remove("tv-now");
      marked = turn;
      const node = nodes.get(turn);
      if (!node) return queue();
      node.classList.add("tv-now");
      // Scroll the view alone (scrollIntoView would scroll the page too).
      const r = node.getBoundingClientRect();
      const v = element.getBoundingClientRect();
      if (r.top < v.top) element.scrollTop += r.top - v.top;
      else if (r.bottom > v.bottom) element.scrollTop += Math.min(r.bottom - v.bottom, r.top - v.top);
    },
    transcript,
  };
}
