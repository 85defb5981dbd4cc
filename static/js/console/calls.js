// Function calling, client side: collects the calls the model completes, and sends their outputs and the
// follow-up `response.create` only while no response is active (PROTOCOL §9.2). No DOM here: the caller
// feeds it server events and results, and it calls `send` with the client events to send.

import { functionOutput, responseCreate } from "./commands.js";

/**
 * `send(events)` sends client events; `onCall(call)` is told of every new completed call
 * (`{call_id, name, arguments}`) so that its handler can run and `resolve` it later.
 */
export function createCallCoordinator({ send, onCall }) {
  let active = false;
  // A `response.create` was sent and its `response.created` has not come: an `error` then means it failed.
  let awaitingCreated = false;
  // call_id → {call, output|undefined, sent}
  const calls = new Map();
  const order = [];

  function register(call) {
    if (!call || !call.call_id || calls.has(call.call_id)) return;
    const entry = {
      call: { call_id: call.call_id, name: call.name, arguments: call.arguments ?? "" },
      output: undefined,
      sent: false,
    };
    calls.set(call.call_id, entry);
    order.push(call.call_id);
    onCall(entry.call);
  }

  function unanswered() {
    return order.map((id) => calls.get(id)).filter((e) => !e.sent);
  }

  function pump() {
    if (active) return;
    const waiting = unanswered();
    const ready = waiting.filter((e) => e.output !== undefined);
    if (ready.length === 0) return;
    const events = ready.map((e) => {
      e.sent = true;
      return functionOutput(e.call.call_id, e.output);
    });
    // Ask for the answer once every call of the turn has its output.
    if (ready.length === waiting.length) {
      events.push(responseCreate());
      active = true;
      awaitingCreated = true;
    }
    send(events);
  }

  return {
    /** Feed every server event, in order. */
    serverEvent(event) {
      switch (event?.type) {
        case "response.created":
          active = true;
          awaitingCreated = false;
          break;
        case "error":
          if (awaitingCreated) {
            awaitingCreated = false;
            active = false;
            pump();
          }
          break;
        case "response.function_call_arguments.done":
          register({ call_id: event.call_id, name: event.name, arguments: event.arguments });
          break;
        case "response.done": {
          for (const item of event.response?.output || []) {
            if (item?.type === "function_call") register(item);
          }
          active = false;
          pump();
          break;
        }
        default:
      }
    },
    /** Feed every client event as it is sent (a `response.create` from elsewhere makes a response active). */
    clientEvent(event) {
      if (event?.type === "response.create") {
        active = true;
        awaitingCreated = true;
      }
    },
    /** The output of a call (a string). Sent now, or when the active response is done. */
    resolve(callId, output) {
      const entry = calls.get(callId);
      if (!entry || entry.sent || entry.output !== undefined) return;
      entry.output = typeof output === "string" ? output : JSON.stringify(output);
      pump();
    },
    /** The calls still waiting for an output. */
    pending() {
      return unanswered()
        .filter((e) => e.output === undefined)
        .map((e) => e.call);
    },
    isResponseActive() {
      return active;
    },
    /** A new connection: forget everything. */
    reset() {
      active = false;
      awaitingCreated = false;
      calls.clear();
      order.length = 0;
    },
  };
}
