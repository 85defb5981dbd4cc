// The session config editor: binds the server-rendered form to a form state (session-config.js) and
// dispatches `config-change` (detail: {form, session, errors}) on every edit.

import {
  EAGERNESS, NOISE_REDUCTION, TRANSCRIPTION_MODELS, VOICES, completeForm, defaultForm, formToSession,
} from './session-config.js';

function fillSelect(select, values, label = (v) => v) {
  select.replaceChildren(...values.map((v) => {
    const o = document.createElement('option');
    o.value = v;
    o.textContent = label(v);
    return o;
  }));
}

function getPath(obj, path) {
  return path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function setPath(obj, path, value) {
  const keys = path.split('.');
  const last = keys.pop();
  const target = keys.reduce((o, k) => (o[k] ??= {}), obj);
  target[last] = value;
}

export function mount(form, { initial } = {}) {
  fillSelect(form.elements.voice, VOICES);
  fillSelect(form.elements['turn.eagerness'], EAGERNESS);
  fillSelect(form.elements.transcription, TRANSCRIPTION_MODELS, (v) => v || 'off');
  fillSelect(form.elements.noise_reduction, NOISE_REDUCTION);
  const errorsEl = form.querySelector('.errors');
  const fields = Array.from(form.elements).filter((el) => el.name);

  function read() {
    const state = defaultForm();
    for (const el of fields) {
      const value = el.type === 'checkbox' ? el.checked : el.value;
      setPath(state, el.name, value);
    }
    return state;
  }

  function showTurnFields(type) {
    for (const el of form.querySelectorAll('[data-turn]')) {
      el.hidden = !el.dataset.turn.split(' ').includes(type);
    }
  }

  function write(state) {
    const f = completeForm(state);
    for (const el of fields) {
      const value = getPath(f, el.name);
      if (el.type === 'checkbox') el.checked = !!value;
      else if (value !== undefined) {
        if (el.tagName === 'SELECT' && ![...el.options].some((o) => o.value === String(value))) {
          // A value the list does not have (a custom voice): offer it rather than lose it.
          const o = document.createElement('option');
          o.value = String(value);
          o.textContent = String(value);
          el.append(o);
        }
        el.value = String(value);
      }
    }
    showTurnFields(f.turn.type);
  }

  function current() {
    const state = read();
    const { session, errors } = formToSession(state);
    errorsEl.replaceChildren(...errors.map((e) => {
      const li = document.createElement('li');
      li.textContent = e.message;
      return li;
    }));
    return { form: state, session, errors };
  }

  function changed() {
    const detail = current();
    showTurnFields(detail.form.turn.type);
    form.dispatchEvent(new CustomEvent('config-change', { detail, bubbles: true }));
  }

  form.addEventListener('input', changed);
  form.addEventListener('change', changed);
  form.addEventListener('submit', (e) => e.preventDefault());
  write(initial || defaultForm());

  return {
    /** `{form, session, errors}` of what the form shows now. */
    current,
    /** Shows `state` and tells listeners. */
    set(state) {
      write(state);
      changed();
    },
  };
}
