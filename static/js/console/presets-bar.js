// The presets menu of the session panel: a list of saved configs and Load, Save as… and Delete. `update`
// shows the names; the buttons go up as CustomEvents on `root`: `preset-load` {name}, `preset-save`
// {name}, `preset-delete` {name}. Save as… asks for the name, and replacing a preset or deleting one is
// asked about first, in the page's own <dialog> (a window.prompt/confirm blocks the page and cannot be
// styled or driven like the rest of it).

import { el, emit } from "../lib/dom.js";

/** What saving under `name` needs: nothing (no name), to save, or to ask before replacing a preset. */
export function saveStep(name, names) {
  const n = String(name ?? "").trim();
  if (!n) return { step: "none" };
  return { step: names.includes(n) ? "replace" : "save", name: n };
}

export function mount(root, { list, load, save, remove, dialog }) {
  const text = dialog.querySelector("#preset-dialog-text");
  const nameRow = dialog.querySelector("#preset-name-row");
  const nameInput = dialog.querySelector("#preset-name");
  const ok = dialog.querySelector("#preset-ok");
  let names = [];
  let onOk = null;

  /** Shows the dialog; `then(name)` runs when the user confirms (the name typed, when it asks for one). */
  function ask({ message, okText, askName = false, name = "" }, then) {
    text.textContent = message;
    ok.textContent = okText;
    nameRow.hidden = !askName;
    nameInput.value = name;
    onOk = then;
    dialog.returnValue = "";
    dialog.showModal();
    (askName ? nameInput : ok).focus();
  }
  dialog.addEventListener("close", () => {
    const then = onOk;
    onOk = null;
    if (dialog.returnValue === "ok" && then) then(nameInput.value);
  });

  function confirmSave(name) {
    const next = saveStep(name, names);
    if (next.step === "save") emit(root, "preset-save", { name: next.name });
    if (next.step === "replace") {
      ask({ message: `Replace the preset “${next.name}” with the current config?`, okText: "Replace" }, () =>
        emit(root, "preset-save", { name: next.name }),
      );
    }
  }

  save.addEventListener("click", () =>
    ask({ message: "Save the session config as", okText: "Save", askName: true, name: list.value || "" }, confirmSave),
  );
  load.addEventListener("click", () => {
    if (list.value) emit(root, "preset-load", { name: list.value });
  });
  remove.addEventListener("click", () => {
    const name = list.value;
    if (!name) return;
    ask({ message: `Delete the preset “${name}”?`, okText: "Delete" }, () => emit(root, "preset-delete", { name }));
  });

  return {
    /** Lists `names`, with `selected` chosen (else the "presets…" placeholder). */
    update(next, selected) {
      names = next;
      list.replaceChildren(
        el("option", { value: "", text: "presets…" }),
        ...next.map((n) => el("option", { value: n, text: n })),
      );
      if (selected) list.value = selected;
    },
  };
}
