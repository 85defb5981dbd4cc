// The log panel's filter bar: direction toggles, type and text filters (typing is debounced), pause
// scroll, next error, clear, and the row count. It owns no state: `show()` puts the panel's filter and pause
// in the controls, `count()` its numbers; what the user does goes to the panel's callbacks.

import { button, el } from "../lib/dom.js";

export const DIRECTIONS = [
  ["client", "→", "sent by the browser"],
  ["server", "←", "received from the server"],
  ["system", "•", "recorded by the console"],
];

const TYPING_MS = 120;

/**
 * `on`: `filter(f)` with the controls' filter, `pause(paused)`, `clear()`, `nextError()`, and `types()`
 * (the event types seen, offered as the type field's suggestions). → `{ element, show, count }`.
 */
export function createBar(on) {
  const boxes = {};
  const dirs = el("span", "lp-dirs");
  for (const [d, arrow, title] of DIRECTIONS) {
    boxes[d] = el("input", { type: "checkbox", checked: true });
    dirs.append(el("label", { class: `lp-dir-toggle lp-d-${d}`, title }, boxes[d], ` ${arrow} ${d}`));
  }
  const uid = Math.random().toString(36).slice(2);
  const datalist = el("datalist", { id: `lp-types-${uid}` });
  const typeInput = el("input", {
    id: `lp-type-${uid}`,
    class: "lp-f-type",
    type: "search",
    placeholder: "type: response, error, session*",
    title: "Exact type, a dotted prefix (response.output_text), raw prefix with * (resp*), or several, comma separated",
    list: datalist.id,
  });
  const textInput = el("input", {
    id: `lp-text-${uid}`,
    class: "lp-f-text",
    type: "search",
    placeholder: "search JSON",
  });
  // Real labels, for screen readers and voice control; the placeholders say the same to the eye.
  const label = (input, text) => el("label", { class: "visually-hidden", htmlFor: input.id }, text);
  const pauseBox = el("input", { type: "checkbox" });
  const pauseLabel = el("label", "lp-pause", pauseBox, " pause scroll");
  const errorsBtn = button("errors: 0", "lp-errors", "Jump to the next error");
  const clearBtn = button("Clear", "lp-clear", "Clear the log view");
  const countOut = el("span", "lp-count");
  const element = el(
    "div",
    "lp-bar",
    dirs,
    label(typeInput, "Filter by event type"),
    typeInput,
    datalist,
    label(textInput, "Search the events' JSON"),
    textInput,
    pauseLabel,
    errorsBtn,
    clearBtn,
    countOut,
  );

  const read = () => ({
    directions: DIRECTIONS.map(([d]) => d).filter((d) => boxes[d].checked),
    type: typeInput.value,
    text: textInput.value,
  });
  let typing = null;
  const later = () => {
    clearTimeout(typing);
    typing = setTimeout(() => on.filter(read()), TYPING_MS);
  };
  for (const box of Object.values(boxes)) box.addEventListener("change", () => on.filter(read()));
  typeInput.addEventListener("input", later);
  textInput.addEventListener("input", later);
  typeInput.addEventListener("focus", () => {
    datalist.replaceChildren(...on.types().map((t) => el("option", { value: t })));
  });
  pauseBox.addEventListener("change", () => on.pause(pauseBox.checked));
  clearBtn.addEventListener("click", () => on.clear());
  errorsBtn.addEventListener("click", () => on.nextError());

  return {
    element,
    /** Puts `filter` ({directions, type, text}) and `paused` in the controls. */
    show({ filter, paused }) {
      for (const [d, box] of Object.entries(boxes)) box.checked = filter.directions.includes(d);
      typeInput.value = filter.type;
      textInput.value = filter.text;
      pauseBox.checked = paused;
    },
    showPaused(paused) {
      pauseBox.checked = paused;
    },
    count({ shown, rows, events, errors }) {
      countOut.textContent = `${shown.toLocaleString()} / ${rows.toLocaleString()} rows · ${events.toLocaleString()} events`;
      errorsBtn.textContent = `errors: ${errors}`;
      errorsBtn.disabled = errors === 0;
    },
  };
}
