// The recorder's wire format: byte counting, an entry serialised as the server stores it, stub events, and
// reading the server's answers (a new call's `Location` too). No state here: recorder.js keeps that, and the
// timing.

/** UTF-8 length of a string without allocating (ASCII is the common case). */
export function utf8Length(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff)
      (i++, (n += 2)); // a surrogate pair: 2 units, 4 bytes
    else n += 2;
  }
  return n;
}

/** A small stand-in for an event the server cannot take, keeping its type and event_id. */
export function stub(event, bytes, reason) {
  const e = event && typeof event === "object" ? event : {};
  const out = { type: typeof e.type === "string" ? e.type : "console.omitted" };
  if (typeof e.event_id === "string") out.event_id = e.event_id;
  out.console_omitted = { reason, bytes };
  return JSON.stringify(out);
}

export function parseRetryAfter(value, nowMs) {
  if (!value) return null;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : null;
}

export async function readJson(res) {
  try {
    return typeof res.json === "function" ? await res.json() : null;
  } catch {
    return null;
  }
}

export function safeParse(json) {
  try {
    return JSON.parse(json);
  } catch {
    return null;
  }
}

// The `event` of an element we serialised ourselves: everything after `"event":` minus the closing brace.
export function extractEvent(element) {
  const at = element.indexOf(',"event":');
  return at < 0 ? "null" : element.slice(at + 9, -1);
}

/** The call id is the last segment of the `Location` of a new call (PROTOCOL §3.3). */
export function callIdFromLocation(location) {
  if (!location) return null;
  const path = location.split(/[?#]/)[0];
  const last = path.split("/").filter(Boolean).pop();
  return last || null;
}

/** The batch index a 409's `param` (`events[3].seq`) names; 0 when it names none. */
export function conflictIndex(param) {
  const m = /^events\[(\d+)\]/.exec(String(param ?? ""));
  return m ? Number(m[1]) : 0;
}

/**
 * One recorded entry as the server stores it: `element` is `{"seq","ts","direction","event"}` as text,
 * `bytes` its UTF-8 size, `json` the event's own text. `event` is an object (serialised now, so a later
 * mutation is not recorded) or the raw JSON text received; one that cannot be sent as it is, or is over
 * `maxEventBytes` (`omitted: true`), is replaced by a stub.
 */
export function serializeEntry(seq, ts, direction, event, maxEventBytes) {
  let json;
  if (typeof event === "string") {
    // Raw text from the data channel is trusted to be the JSON object it was parsed from; a cheap check
    // keeps an obviously wrong string from getting a whole batch refused (which would halt the recorder).
    const trimmed = event.trim();
    json =
      trimmed.startsWith("{") && trimmed.endsWith("}")
        ? event
        : stub({ type: "console.invalid_event" }, event.length, "not_a_json_object");
  } else {
    try {
      json = event && typeof event === "object" ? JSON.stringify(event) : undefined;
    } catch {
      json = undefined;
    }
    json ??= stub(event, 0, "unserializable");
  }
  let eventBytes = utf8Length(json);
  const omitted = eventBytes > maxEventBytes;
  if (omitted) {
    json = stub(typeof event === "string" ? safeParse(event) : event, eventBytes, "too_large");
    eventBytes = utf8Length(json);
  }
  const element = `{"seq":${seq},"ts":${JSON.stringify(ts)},"direction":"${direction}","event":${json}}`;
  // The envelope around the event is ASCII: the event's bytes are counted once.
  return { element, bytes: element.length - json.length + eventBytes, json, omitted };
}

/** A queued entry (`{json, bytes, event}`) with its event replaced by the stub of a 413 refusal, same seq. */
export function refusedEntry(it) {
  const event = stub(safeParse(it.event ?? extractEvent(it.json)), it.bytes, "refused_413");
  const json = it.json.slice(0, it.json.indexOf(',"event":') + 9) + event + "}";
  return { json, bytes: utf8Length(json), event };
}
