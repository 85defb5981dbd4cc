// The text box and the Interrupt button of the conversation panel. Enabled while the data channel is
// open (`setEnabled`); what the user does goes up as CustomEvents on `root`: `talk-text` {text} (trimmed,
// never empty), `talk-interrupt`.

import { emit } from "../lib/dom.js";

export function mount(root, { form, input, send, interrupt }) {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (text) emit(root, "talk-text", { text });
  });
  interrupt.addEventListener("click", () => emit(root, "talk-interrupt"));

  return {
    setEnabled(on) {
      for (const node of [input, send, interrupt]) node.disabled = !on;
    },
    /** The text went out: empty the box. */
    sent() {
      input.value = "";
    },
    focus() {
      input.focus();
    },
  };
}
