// The recorder's wire format helpers: byte counting, stub events, and reading the server's answers.

/** UTF-8 length of a string without allocating (ASCII is the common case). */
export function utf8Length(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) i++, (n += 2); // a surrogate pair: 2 units, 4 bytes
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

/** The batch index a 409's `param` (`events[3].seq`) names; 0 when it names none. */
export function conflictIndex(param) {
  const m = /^events\[(\d+)\]/.exec(String(param ?? ""));
  return m ? Number(m[1]) : 0;
}
