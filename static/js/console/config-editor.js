// The session config editor: binds the server-rendered form to a form state (session-config.js) and
// dispatches `config-change` (detail: {form, session, errors}) on every edit, `config-apply` (the same
// detail) and `config-reset` for its two buttons (#config-apply, #config-reset).

import { el, emit } from "../lib/dom.js";
import {
  EAGERNESS,
  NOISE_REDUCTION,
  TRANSCRIPTION_MODELS,
  VOICES,
  completeForm,
  defaultForm,
  formToSession,
} from "./session-config.js";

function fillSelect(select, values, label = (v) => v) {
  select.replaceChildren(...values.map((v) => el("option", { value: v, text: label(v) })));
}

function getPath(obj, path) {
  return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function setPath(obj, path, value) {
  const keys = path.split(".");
  const last = keys.pop();
  const target = keys.reduce((o, k) => (o[k] ??= {}), obj);
  target[last] = value;
}

export function mount(form, { initial } = {}) {
  fillSelect(form.elements.voice, VOICES);
  fillSelect(form.elements["turn.eagerness"], EAGERNESS);
  fillSelect(form.elements.transcription, TRANSCRIPTION_MODELS, (v) => v || "off");
  fillSelect(form.elements.noise_reduction, NOISE_REDUCTION);
  const errorsEl = form.querySelector(".errors");
  const fields = Array.from(form.elements).filter((field) => field.name);

  function read() {
    const state = defaultForm();
    for (const field of fields) {
      const value = field.type === "checkbox" ? field.checked : field.value;
      setPath(state, field.name, value);
    }
    return state;
  }

  function showTurnFields(type) {
    for (const node of form.querySelectorAll("[data-turn]")) {
      node.hidden = !node.dataset.turn.split(" ").includes(type);
    }
  }

  function write(state) {
    const f = completeForm(state);
    for (const field of fields) {
      const value = getPath(f, field.name);
      if (field.type === "checkbox") field.checked = !!value;
      else if (value !== undefined) {
        if (field.tagName === "SELECT" && ![...field.options].some((o) => o.value === String(value))) {
          // A value the list does not have (a custom voice): offer it rather than lose it.
          field.append(el("option", { value: String(value), text: String(value) }));
        }
        field.value = String(value);
      }
    }
    showTurnFields(f.turn.type);
  }

  function current() {
    const state = read();
    const { session, errors } = formToSession(state);
    errorsEl.replaceChildren(...errors.map((e) => el("li", { text: e.message })));
    return { form: state, session, errors };
  }

  function changed() {
    const detail = current();
    showTurnFields(detail.form.turn.type);
    emit(form, "config-change", detail);
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", (e) => e.preventDefault());
  const apply = form.querySelector("#config-apply");
  apply.addEventListener("click", () => emit(form, "config-apply", current()));
  form.querySelector("#config-reset").addEventListener("click", () => emit(form, "config-reset"));
  write(initial || defaultForm());

  return {
    /** `{form, session, errors}` of what the form shows now. */
    current,
    /** Apply is for a live session with a valid config. */
    setApplyEnabled(on) {
      apply.disabled = !on;
    },
    /** Shows `state` and tells listeners. */
    set(state) {
      write(state);
      changed();
    },
  };
}
