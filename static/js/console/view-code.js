// The "View code" panel: the session the console has as runnable snippets (console/code-snippets.js), one
// at a time behind a tab per client, with where the session comes from and a Copy button. `show(view)`
// draws it; the snippet goes in as text.

import { button } from "../lib/dom.js";
import { snippets } from "./code-snippets.js";

export function mount(panel, { baseUrl }) {
  const source = panel.querySelector("#view-code-source");
  const tabs = panel.querySelector("#view-code-tabs");
  const text = panel.querySelector("#view-code-text");
  const copy = panel.querySelector("#view-code-copy");
  let list = [];
  let chosen = "python";

  function draw() {
    const current = list.find((s) => s.id === chosen) || list[0];
    tabs.replaceChildren(
      ...list.map((s) => {
        const b = button(s.label, "small tab");
        b.dataset.snippet = s.id;
        b.setAttribute("aria-pressed", String(s === current));
        b.addEventListener("click", () => {
          chosen = s.id;
          draw();
        });
        return b;
      }),
    );
    text.dataset.snippet = current?.id || "";
    text.textContent = current?.text || "";
  }

  copy.addEventListener("click", () => {
    navigator.clipboard?.writeText(text.textContent).then(
      () => (copy.textContent = "Copied"),
      () => (copy.textContent = "Copy failed"),
    );
  });

  return {
    /** `view`: `{session, source}` (source: what the session is, in words), or null while the form is invalid. */
    show(view) {
      if (!view) return;
      source.textContent = view.source;
      list = snippets(view.session, { baseUrl });
      copy.textContent = "Copy";
      draw();
    },
  };
}
