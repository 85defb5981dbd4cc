// Where the recorder keeps pending events across a page reload (a Storage: sessionStorage in the page).

export const STORAGE_PREFIX = "realtime-console.recorder.";

/** Sessions an earlier page left pending events for in `storage`. */
export function storedSessions(storage) {
  const out = [];
  if (!storage) return out;
  for (let i = 0; i < storage.length; i++) {
    const key = storage.key(i);
    if (!key?.startsWith(STORAGE_PREFIX)) continue;
    const saved = readSaved(storage, key);
    if (saved) out.push({ sessionId: saved.sessionId, nextSeq: saved.nextSeq, pending: saved.items.length });
  }
  return out;
}

export function readSaved(storage, key) {
  try {
    const saved = JSON.parse(storage.getItem(key) ?? "null");
    if (saved?.v === 1 && Array.isArray(saved.items) && Number.isInteger(saved.nextSeq)) return saved;
  } catch {
    // A corrupt entry is ignored, not fatal: the server keeps what it already has.
  }
  return null;
}

/** The saved queue of `sessionId` as `{nextSeq, items: [[seq, elementJson]]}` (ascending), or null. */
export function loadQueue(storage, key, sessionId) {
  if (!storage) return null;
  const saved = readSaved(storage, key);
  if (!saved || saved.sessionId !== sessionId) return null;
  const items = saved.items.filter(([seq, json]) => Number.isInteger(seq) && typeof json === "string");
  items.sort((a, b) => a[0] - b[0]);
  return { nextSeq: saved.nextSeq, items };
}

/** Saves the queue (`items` of `{seq, json}`), or removes the entry when it is empty. May throw (quota). */
export function saveQueue(storage, key, sessionId, nextSeq, items) {
  if (!items.length) return storage.removeItem(key);
  const saved = { v: 1, sessionId, nextSeq, items: items.map((i) => [i.seq, i.json]) };
  storage.setItem(key, JSON.stringify(saved));
}
