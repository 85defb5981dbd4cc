// The presets menu of the session panel: a list of saved configs and Load, Save as… and Delete. `update`
// shows the names; the buttons go up as CustomEvents on `root`: `preset-load` {name}, `preset-save`
// {name} (asked for with a prompt), `preset-delete` {name}.

import { el, emit } from "../lib/dom.js";

export function mount(root, { list, load, save, remove }) {
  save.addEventListener("click", () => {
    const name = window.prompt("Save the session config as", list.value || "");
    if (name) emit(root, "preset-save", { name });
  });
  load.addEventListener("click", () => {
    if (list.value) emit(root, "preset-load", { name: list.value });
  });
  remove.addEventListener("click", () => {
    if (list.value) emit(root, "preset-delete", { name: list.value });
  });

  return {
    /** Lists `names`, with `selected` chosen (else the "presets…" placeholder). */
    update(names, selected) {
      list.replaceChildren(
        el("option", { value: "", text: "presets…" }),
        ...names.map((n) => el("option", { value: n, text: n })),
      );
      if (selected) list.value = selected;
    },
  };
}
