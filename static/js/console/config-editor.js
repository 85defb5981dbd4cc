// The session config editor: binds the server-rendered form to a form state (session-config.js) and
// dispatches `config-change` (detail: {form, session, errors}) on every edit, `config-apply` (the same
// detail) and `config-reset` for its two buttons (#config-apply, #config-reset). It marks the fields
// where the server's session differs (`markDiffering`) and says what became of the last Apply
// (`showResult`; its link goes up as `log-reveal` {seq}).

import { el, emit } from "../lib/dom.js";
import {
  AUDIO_FORMATS,
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
  fillSelect(form.elements.input_format, AUDIO_FORMATS);
  fillSelect(form.elements.output_format, AUDIO_FORMATS);
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

  function showDependentFields(f) {
    showTurnFields(f.turn.type);
    for (const node of form.querySelectorAll("[data-truncation]")) {
      node.hidden = node.dataset.truncation !== f.truncation;
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
    showDependentFields(f);
  }

  function current() {
    const state = read();
    const { session, errors } = formToSession(state);
    errorsEl.replaceChildren(...errors.map((e) => el("li", { text: e.message })));
    return { form: state, session, errors };
  }

  function changed() {
    const detail = current();
    showDependentFields(detail.form);
    emit(form, "config-change", detail);
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", (e) => e.preventDefault());
  const apply = form.querySelector("#config-apply");
  apply.addEventListener("click", () => emit(form, "config-apply", current()));
  form.querySelector("#config-reset").addEventListener("click", () => emit(form, "config-reset"));
  const result = form.querySelector("#config-result");
  const resultText = form.querySelector("#config-result-text");
  const resultLink = form.querySelector("#config-result-link");
  let resultSeq = null;
  resultLink.addEventListener("click", () => emit(form, "log-reveal", { seq: resultSeq }));
  write(initial || defaultForm());

  return {
    /** `{form, session, errors}` of what the form shows now. */
    current,
    /** Apply is for a live session with a valid config. */
    setApplyEnabled(on) {
      apply.disabled = !on;
    },
    /** Marks the labels of the fields whose row (compareSession's) differs; `[]` clears the marks. */
    markDiffering(rows) {
      const server = new Map(rows.filter((r) => r.differs).map((r) => [r.field, r.server]));
      for (const field of fields) {
        const label = field.closest("label");
        if (!label) continue;
        const theirs = server.get(field.name);
        label.dataset.differs = String(theirs !== undefined);
        label.title = theirs !== undefined ? `The server's session has: ${theirs}` : "";
      }
    },
    /** What became of the last session.update: configResult(update) of console/state.js. */
    showResult(view) {
      result.hidden = view.hidden;
      if (view.hidden) return;
      result.dataset.kind = view.kind;
      resultText.textContent = view.text;
      resultSeq = view.seq;
      resultLink.hidden = view.seq == null;
      resultLink.textContent = view.link || "";
    },
    /** Shows `state` and tells listeners. */
    set(state) {
      write(state);
      changed();
    },
  };
}
