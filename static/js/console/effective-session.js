// The server's effective session beside the config form: which event it comes from (a button that shows
// that event in the log), its fields as the form names them, marked where the form says something else,
// and its whole JSON. `show(view)` draws it; the button goes up as `log-reveal` {seq} on the section.

import { renderJson } from "../components/json-tree.js";
import { button, el, emit } from "../lib/dom.js";

export function mount(section, { source, fields, json }) {
  return {
    /** `view`: null (no session yet: hidden), or `{type, seq, session, rows}` (rows: compareSession). */
    show(view) {
      section.hidden = !view;
      if (!view) return;
      const from = button(`${view.type} #${view.seq}`, "link", "Show this event in the log");
      from.addEventListener("click", () => emit(section, "log-reveal", { seq: view.seq }));
      source.replaceChildren("from ", from);
      fields.replaceChildren(
        ...view.rows.flatMap((row) => {
          const differs = String(row.differs);
          const title = row.differs ? "The form says something else: Apply sends it" : "";
          return [
            el("dt", { "data-field": row.field, "data-differs": differs, title, text: row.label }),
            el("dd", { "data-field": row.field, "data-differs": differs, title, text: row.server }),
          ];
        }),
      );
      json.replaceChildren(renderJson(view.session, { open: 1 }));
    },
  };
}
