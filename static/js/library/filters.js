// The log panel's filter ({directions, type, text}, see static/js/README.md) as query parameters of
// `GET /api/sessions/{id}/events`, for sessions too big to filter in the page. No DOM.

const ALL = ["client", "server", "system"];

/**
 * → {type?, direction?, q?} or null when nothing is filtered. `types` are the session's event types: a
 * dotted prefix (`response.output_text`) becomes the API's prefix form (`response.output_text.`) unless it
 * is itself the only type it names. What the API cannot say (two directions out of three, several types)
 * is left to the panel, which filters what it holds.
 */
export function apiFilter(f, types) {
  const out = {};
  const dirs = f?.directions ? [...f.directions] : ALL;
  if (dirs.length === 1) out.direction = dirs[0];
  const t = (f?.type ?? "").trim();
  if (t && !t.includes(",")) {
    const raw = t.endsWith("*") ? t.slice(0, -1) : t;
    const below = types.some((x) => x.startsWith(`${raw}.`));
    if (t.endsWith("*")) out.type = raw.endsWith(".") ? raw : below ? `${raw}.` : raw;
    else out.type = below && !types.includes(raw) ? `${raw}.` : raw;
  }
  const text = (f?.text ?? "").trim();
  if (text) out.q = text;
  return Object.keys(out).length ? out : null;
}

export function sameFilter(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
