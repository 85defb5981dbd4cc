// The client events the console's buttons send (PROTOCOL §7), built as plain objects. No DOM here.

import { messageContent } from "./images.js";

let counter = 0;

/** A client `event_id`, so a server `error` can be paired with the event that caused it. */
export function eventId() {
  counter += 1;
  return `evt_console_${Date.now().toString(36)}_${counter}`;
}

/** A typed message (and the data URLs of its images, each an `input_image`), then its answer. */
export function userText(text, images = []) {
  return [
    {
      type: "conversation.item.create",
      event_id: eventId(),
      item: { type: "message", role: "user", content: messageContent(text, images) },
    },
    responseCreate(),
  ];
}

export function responseCreate() {
  return { type: "response.create", event_id: eventId() };
}

export function sessionUpdate(session) {
  return { type: "session.update", event_id: eventId(), session };
}

/** Push-to-talk pressed: with turn detection off, start a fresh input buffer. */
export function pttPress(manual) {
  return manual ? [{ type: "input_audio_buffer.clear", event_id: eventId() }] : [];
}

/**
 * Push-to-talk released: with turn detection off, the client ends the turn. The answer is asked for only
 * once the server says `input_audio_buffer.committed` (console/state.js commitAnswered): a commit it
 * refuses (too little audio) must not get one.
 */
export function pttRelease(manual) {
  return manual ? [{ type: "input_audio_buffer.commit", event_id: eventId() }] : [];
}

/** Stop the model: cancel the response (when one is active), then drop the audio already queued. */
export function interrupt(responseActive) {
  const events = [];
  if (responseActive) events.push({ type: "response.cancel", event_id: eventId() });
  events.push({ type: "output_audio_buffer.clear", event_id: eventId() });
  return events;
}

export function functionOutput(callId, output) {
  return {
    type: "conversation.item.create",
    event_id: eventId(),
    item: { type: "function_call_output", call_id: callId, output },
  };
}
