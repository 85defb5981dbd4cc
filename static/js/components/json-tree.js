// A collapsible, read-only JSON tree built from DOM nodes (never HTML strings), for event payloads.
// Native <details> elements do the collapsing, so it needs no event handlers except "show all".

import { button, el } from "../lib/dom.js";

const MAX_STRING = 2000; // base64 audio or images would otherwise make one row megabytes long
const MAX_CHILDREN = 500; // a huge array renders its first items and says how many it left out

function scalar(value) {
  if (value === null) return el("span", "jt-null", "null");
  switch (typeof value) {
    case "string":
      return stringNode(value);
    case "number":
      return el("span", "jt-num", String(value));
    case "boolean":
      return el("span", "jt-bool", String(value));
    default:
      return el("span", "jt-null", String(value));
  }
}

function stringNode(s) {
  const span = el("span", "jt-str");
  if (s.length <= MAX_STRING) {
    span.textContent = JSON.stringify(s);
    return span;
  }
  span.textContent = JSON.stringify(s.slice(0, MAX_STRING)).slice(0, -1) + "…";
  const more = button(`show all ${s.length.toLocaleString()} chars`, "jt-more");
  more.addEventListener("click", (e) => {
    e.preventDefault();
    span.textContent = JSON.stringify(s);
  });
  const wrap = el("span");
  wrap.append(span, " ", more);
  return wrap;
}

function summaryOf(value) {
  if (Array.isArray(value)) return `[${value.length}]`;
  const keys = Object.keys(value);
  // Show `type` inline: in event payloads it is what a collapsed object is about.
  const type = typeof value.type === "string" ? ` ${value.type}` : "";
  return `{${keys.length}}${type}`;
}

function node(key, value, depth, open) {
  const isObject = value !== null && typeof value === "object";
  const keyNode = key === undefined ? null : el("span", "jt-key", `${key}: `);
  if (!isObject) {
    const line = el("div", "jt-line");
    if (keyNode) line.append(keyNode);
    line.append(scalar(value));
    return line;
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  if (!entries.length) {
    const line = el("div", "jt-line");
    if (keyNode) line.append(keyNode);
    line.append(el("span", "jt-punct", Array.isArray(value) ? "[]" : "{}"));
    return line;
  }
  const details = el("details", "jt-node");
  details.open = depth < open;
  const summary = el("summary");
  if (keyNode) summary.append(keyNode);
  summary.append(el("span", "jt-sum", summaryOf(value)));
  details.append(summary);
  const body = el("div", "jt-body");
  // Children are built when first opened: a closed subtree of a big session costs nothing.
  const fill = () => {
    if (body.childElementCount) return;
    for (const [k, v] of entries.slice(0, MAX_CHILDREN)) body.append(node(k, v, depth + 1, open));
    if (entries.length > MAX_CHILDREN) {
      body.append(el("div", "jt-line jt-null", `… ${entries.length - MAX_CHILDREN} more`));
    }
  };
  if (details.open) fill();
  else details.addEventListener("toggle", fill, { once: true });
  details.append(body);
  return details;
}

/** Renders `value` as a tree; levels below `open` start collapsed. */
export function renderJson(value, { open = 2 } = {}) {
  const root = el("div", "jt");
  root.append(node(undefined, value, 0, open));
  return root;
}
