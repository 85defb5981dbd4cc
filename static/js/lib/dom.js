// The few DOM helpers every component uses: build an element (text only ever as text nodes, never HTML),
// a button, a bubbling CustomEvent, and a string cut to fit a row. Not a framework: nothing here renders.

/**
 * `el("span", "lp-seq", "12")`, or `el("input", { type: "checkbox", checked: true, "data-tool": name })`.
 * `props`: a class name, or an object whose keys are set as properties, except `class` (className),
 * `text` (textContent) and `data-*`/`aria-*`/`role`/`list` (attributes). `children` are nodes or strings
 * (appended as text); `null`, `undefined` and `false` are skipped.
 */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  if (typeof props === "string") {
    if (props) node.className = props;
  } else if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role" || k === "list") node.setAttribute(k, v);
      else node[k] = v;
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** A `type="button"` button (never a form submit). */
export function button(text, className, title) {
  const b = el("button", className, text);
  b.type = "button";
  if (title) b.title = title;
  return b;
}

/** Dispatches `name` on `element` as a bubbling CustomEvent: how a component tells the page. */
export function emit(element, name, detail) {
  element.dispatchEvent(new CustomEvent(name, { detail, bubbles: true }));
}

/** `text` cut to `n` characters, with "…" when it was longer. */
export function short(text, n = 160) {
  const s = String(text ?? "");
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
