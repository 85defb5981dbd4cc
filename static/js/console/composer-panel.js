// The client-event composer: a template menu, the event's JSON to edit, and Send. Enabled while an event
// can be sent (`setEnabled`); `setContext({itemId})` is the item the templates name. Sending goes up as a
// CustomEvent on `root`, `composer-send` {event}, and the controller sends it the way the page sends
// everything (so it is recorded); `sent(event)` shows its event_id, `refused(message)` why not.

import { el, emit } from "../lib/dom.js";
import { TEMPLATES, composed, templateText } from "./composer.js";

export function mount(root, { template, text, send, note }) {
  let context = {};
  let lastEventId = null;
  template.replaceChildren(...TEMPLATES.map((t) => el("option", { value: t.name, text: t.name })));
  const fill = () => {
    text.value = templateText(template.value, context);
    note.textContent = "";
    delete note.dataset.kind;
  };
  template.addEventListener("change", fill);
  send.addEventListener("click", () => {
    const { event, error } = composed(text.value, { lastEventId });
    if (error) {
      note.textContent = error;
      note.dataset.kind = "error";
      return;
    }
    emit(root, "composer-send", { event });
  });
  fill();

  return {
    setEnabled(on) {
      send.disabled = !on;
    },
    setContext(next) {
      context = next;
    },
    /** `event` went out: its event_id shows (and the JSON keeps it, so the user sees what was sent). */
    sent(event) {
      lastEventId = event.event_id;
      text.value = JSON.stringify(event, null, 2);
      note.textContent = `Sent ${event.type} (event_id ${event.event_id}).`;
      note.dataset.kind = "ok";
    },
    refused(message) {
      note.textContent = message;
      note.dataset.kind = "error";
    },
  };
}
