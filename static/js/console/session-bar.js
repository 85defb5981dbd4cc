// The connection bar: flow, Connect and Disconnect, the call's one state and the ICE/peer/channel chips, the console session's id
// (a link to its inspector) and the recorder's badge. `update(view)` shows the page's state; the buttons
// go up as CustomEvents on the bar: `session-connect` {flow}, `session-disconnect`.

import { emit } from "../lib/dom.js";

/** `bar`: the bar's element; the parts are found by their ids inside it. */
export function mount(bar) {
  const $ = (id) => bar.querySelector(`#${id}`);
  const flow = $("flow");
  const connect = $("connect");
  const disconnect = $("disconnect");
  const sessionId = $("session-id");
  const sessionLink = $("session-link");
  const rec = $("rec");

  connect.addEventListener("click", () => emit(bar, "session-connect", { flow: flow.value }));
  disconnect.addEventListener("click", () => emit(bar, "session-disconnect"));

  return {
    /**
     * `controls` (console/state.js), `conn` (connection(state)), `chips` {ice, peer, channel}, `session`
     * {label, id}, `rec` (recBadge).
     */
    update({ controls, conn, chips, session, rec: badge }) {
      connect.disabled = !controls.connect;
      flow.disabled = !controls.flow;
      disconnect.disabled = !controls.disconnect;
      for (const [component, state] of Object.entries({ ...chips, conn: conn.state })) {
        const chip = $(`state-${component}`);
        if (chip.dataset.state === state) continue;
        chip.dataset.state = state;
        chip.querySelector("b").textContent = state;
      }
      sessionId.textContent = session.label;
      if (session.id) sessionLink.href = `/sessions/${encodeURIComponent(session.id)}`;
      if (badge) {
        $("rec-recorded").textContent = badge.recorded;
        $("rec-pending").textContent = badge.pending;
        rec.dataset.state = badge.state;
        rec.title = badge.title;
      }
    },
  };
}
