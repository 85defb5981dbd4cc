// The console's drop-in recorder, served at `/recorder.js` for a page of your own that builds its own
// RTCPeerConnection and `oai-events` data channel:
//
//   import { record } from "http://127.0.0.1:3000/recorder.js";
//   const rec = record(pc, dc, { label: "my page" });
//   rec.setCallId(answer.headers.get("Location"));   // once the SDP answer is in
//   await rec.stop();                                // or let the channel's close end it
//
// Everything goes to the console this module was loaded from: `import.meta.url` names it, whichever page
// imports it. The imports below are absolute paths, which resolve against this module's URL too; a page on
// another origin gets them (and the API) with CORS when its origin is in the console's `--allow-origin`.

import { createPageRecorder } from "/static/js/lib/page-recorder.js";

const CONSOLE = new URL(import.meta.url).origin;

/**
 * Records both directions of `dc` (and the states of `pc`) into a new library session. Options: `label`,
 * `callId` (the call's id or the SDP answer's `Location`, if already known), `sessionId` (the
 * `X-Console-Session-Id` of a call made through the console's gateway: record into that session instead of a
 * new one). Returns `{ stats(), onChange(cb), flush(), stop(), setCallId(idOrLocation), ready }`.
 */
export function record(pc, dc, { label, callId, sessionId } = {}) {
  return createPageRecorder({
    pc,
    dc,
    label,
    callId,
    sessionId,
    base: CONSOLE,
    page: window,
    origin: location.origin,
    userAgent: navigator.userAgent,
    fetch: (url, init) => fetch(url, init),
  });
}
