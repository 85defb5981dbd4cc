// The "Seeded from session …" notice above the session config. `update(view)` shows console/state.js's
// `seedNotice()`; Clear goes up as a `seed-clear` CustomEvent on the notice.

import { emit } from "../lib/dom.js";

export function mount(notice, { text, link, items, clear }) {
  clear.addEventListener("click", () => emit(notice, "seed-clear"));

  return {
    update(view) {
      notice.hidden = view.hidden;
      if (view.hidden) return;
      text.textContent = view.text;
      link.textContent = view.id;
      link.href = view.href;
      items.textContent = view.items;
      notice.dataset.state = view.state;
      notice.title = view.title;
    },
  };
}
