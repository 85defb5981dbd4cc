// The tools panel: built-in demo tools to switch on and off, custom tools to define, the calls waiting
// for a typed output, and the palette `display_color_palette` shows; a tool the form has and the server's
// session does not is marked "not on the server". Actions go up as CustomEvents:
// `tool-toggle` {name, on}, `tool-add` {tool, mock}, `tool-remove` {name}, `call-output` {call_id, output}.

import { el, emit, short } from "../lib/dom.js";
import { BUILTIN_TOOLS, BUILTIN_NAMES, customTool } from "./tools.js";

export function mount(root) {
  const builtins = el("ul", { class: "tool-list" });
  const checks = new Map();
  for (const tool of BUILTIN_TOOLS) {
    const box = el("input", { type: "checkbox", checked: true, "data-tool": tool.name });
    box.addEventListener("change", () => emit(root, "tool-toggle", { name: tool.name, on: box.checked }));
    checks.set(tool.name, box);
    builtins.append(
      el(
        "li",
        { "data-tool": tool.name },
        el("label", {}, box, " ", el("code", { text: tool.name })),
        el("span", { class: "muted", text: ` ${tool.description}` }),
      ),
    );
  }

  const customs = el("ul", { class: "tool-list custom" });

  const name = el("input", { placeholder: "name, e.g. lookup_order", name: "tool-name" });
  const description = el("input", { placeholder: "description", name: "tool-description" });
  const parameters = el("textarea", {
    rows: 3,
    class: "mono",
    spellcheck: false,
    name: "tool-parameters",
    placeholder: '{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}',
  });
  const mock = el("textarea", {
    rows: 2,
    class: "mono",
    name: "tool-mock",
    placeholder: "fixed output (empty: type it when called)",
  });
  const error = el("p", { class: "error" });
  const add = el("button", { type: "submit", class: "small", text: "Add tool" });
  const field = (text, control) => el("label", { class: "tool-field" }, text, control);
  const form = el(
    "form",
    { class: "tool-form" },
    field("Name", name),
    field("Description", description),
    field("Parameters (JSON schema)", parameters),
    field("Mock output", mock),
    add,
    error,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const made = customTool({ name: name.value, description: description.value, parameters: parameters.value });
    if (made.error) {
      error.textContent = made.error;
      return;
    }
    error.textContent = "";
    emit(root, "tool-add", { tool: made.tool, mock: mock.value });
    form.reset();
  });
  const details = el("details", { class: "tool-custom" }, el("summary", { text: "Custom tool…" }), form);

  const pending = el("div", { class: "pending" });
  const palette = el("div", { class: "palette", "data-empty": "true" });
  const history = el("ol", { class: "call-history" });

  root.append(builtins, customs, details, pending, palette, history);

  let formNames = new Set();
  let serverNames = null; // the tools of the server's session; null before there is one
  /** A tool the form has and the server's session does not says so. */
  function markApplied() {
    for (const li of root.querySelectorAll("li[data-tool]")) {
      const missing = serverNames !== null && formNames.has(li.dataset.tool) && !serverNames.has(li.dataset.tool);
      li.dataset.applied = String(!missing);
      let note = li.querySelector(".not-applied");
      if (missing && !note) li.append((note = el("span", { class: "not-applied", text: " not on the server" })));
      if (!missing && note) note.remove();
    }
  }

  return {
    /** Shows which tools the session config has and the mock outputs of the custom ones. */
    setTools(tools, mocks) {
      const names = new Set(tools.map((t) => t?.name));
      formNames = names;
      for (const [n, box] of checks) box.checked = names.has(n);
      customs.replaceChildren(
        ...tools
          .filter((t) => t?.name && !BUILTIN_NAMES.includes(t.name))
          .map((t) => {
            const remove = el("button", { type: "button", class: "small link", text: "remove" });
            remove.addEventListener("click", () => emit(root, "tool-remove", { name: t.name }));
            const how = mocks?.[t.name] ? `mock: ${short(mocks[t.name], 40)}` : "you type the output";
            return el(
              "li",
              { "data-tool": t.name },
              el("code", { text: t.name }),
              el("span", { class: "muted", text: ` ${how} ` }),
              remove,
            );
          }),
      );
      markApplied();
    },
    /** The tool names of the server's effective session (null: none yet): the form's others are marked. */
    setServerTools(names) {
      serverNames = names ? new Set(names) : null;
      markApplied();
    },
    /** A call waiting for the user to type its output. */
    addPending(call) {
      const output = el("textarea", {
        rows: 2,
        class: "mono",
        placeholder: "output (JSON or text)",
        "aria-label": `Output of ${call.name}`,
      });
      const send = el("button", { type: "button", class: "small primary", text: "Send output" });
      const box = el(
        "div",
        { class: "pending-call", "data-call-id": call.call_id },
        el("div", {}, el("b", { text: "Pending call " }), el("code", { text: call.name })),
        el("pre", { class: "args", text: short(call.arguments, 400) }),
        output,
        send,
      );
      send.addEventListener("click", () => emit(root, "call-output", { call_id: call.call_id, output: output.value }));
      pending.append(box);
      output.focus();
    },
    removePending(callId) {
      for (const box of pending.querySelectorAll(".pending-call")) {
        if (box.dataset.callId === callId) box.remove();
      }
    },
    showPalette({ theme, colors }) {
      palette.dataset.empty = "false";
      palette.replaceChildren(
        el("div", { class: "palette-theme", text: theme }),
        ...colors.map((c) => {
          const sw = el("span", { class: "swatch", title: c });
          sw.style.background = c;
          return el("span", { class: "swatch-box" }, sw, el("code", { text: c }));
        }),
      );
    },
    /** One line per answered call, newest first. */
    noteCall(call, output) {
      history.prepend(
        el("li", {}, el("code", { text: call.name }), " → ", el("span", { class: "mono", text: short(output, 120) })),
      );
      while (history.children.length > 20) history.lastChild.remove();
    },
  };
}
