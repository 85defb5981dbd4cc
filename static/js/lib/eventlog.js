// The log panel's model: an append-only list of rows over recorded entries, with delta folding, error
// linkage and fast filtering. No DOM, so the inspector page and the tests can use it as is.

const DIRECTIONS = ["client", "server", "system"];
// Streaming audio deltas carry base64, not text: folding them keeps a byte count instead of a string.
const AUDIO_DELTAS = new Set(["response.output_audio.delta", "response.audio.delta"]);

/** True for event types whose members fold into one row (`response.output_text.delta`, …). */
export function isFoldType(type) {
  return typeof type === "string" && type.endsWith(".delta");
}

/** The ids a row is keyed by; items, responses and calls may carry them nested. */
export function keyIds(event) {
  const e = event ?? {};
  return {
    item_id: str(e.item_id) ?? str(e.item?.id),
    response_id: str(e.response_id) ?? str(e.response?.id),
    call_id: str(e.call_id) ?? str(e.item?.call_id),
    event_id: str(e.event_id),
  };
}

function str(v) {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** `+12.345` under a minute, `+1:02.345` above, in seconds; negative before t0. */
export function formatRelTime(ms) {
  if (!Number.isFinite(ms)) return "";
  const sign = ms < 0 ? "-" : "+";
  const total = Math.abs(ms) / 1000;
  if (total < 60) return sign + total.toFixed(3);
  const min = Math.floor(total / 60);
  const sec = total - min * 60;
  return `${sign}${min}:${sec.toFixed(3).padStart(6, "0")}`;
}

// The `.done` (or transcription `.completed`) of a part ends its fold: later deltas start a new row.
function deltaTypeClosedBy(type) {
  if (typeof type !== "string") return undefined;
  if (type.endsWith(".done")) return type.slice(0, -5) + ".delta";
  if (type === "conversation.item.input_audio_transcription.completed")
    return "conversation.item.input_audio_transcription.delta";
  return undefined;
}

function levelOf(event) {
  const type = event.type;
  if (type === "error") return "error";
  if (typeof type === "string" && type.endsWith(".failed")) return "warn";
  if (type === "response.done") {
    const s = event.response?.status;
    if (s === "failed" || s === "incomplete") return "warn";
  }
  return undefined;
}

// Compiles the type part of a filter into a predicate. Several types may be separated by commas.
function typeMatcher(spec) {
  if (!spec) return null;
  const parts = String(spec)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (!parts.length) return null;
  const tests = parts.map((p) => {
    if (p.endsWith("*")) {
      const prefix = p.slice(0, -1);
      return (t) => t.startsWith(prefix);
    }
    if (p.endsWith(".")) return (t) => t.startsWith(p);
    const dotted = p + ".";
    return (t) => t === p || t.startsWith(dotted);
  });
  return tests.length === 1 ? tests[0] : (t) => tests.some((f) => f(t));
}

// Directions as a bit mask so the hot loop compares integers, not strings.
function directionMask(dirs) {
  if (!dirs) return 15;
  const list = dirs instanceof Set ? [...dirs] : Array.isArray(dirs) ? dirs : [dirs];
  let mask = 0;
  for (const d of list) {
    const i = DIRECTIONS.indexOf(d);
    if (i >= 0) mask |= 1 << i;
  }
  return mask === 7 ? 15 : mask; // all three named: no constraint
}

function compile(f = {}) {
  const text = typeof f.text === "string" ? f.text.trim().toLowerCase() : "";
  return { mask: directionMask(f.directions), type: typeMatcher(f.type), text };
}

/**
 * Creates an empty log. `t0` (ms since epoch) anchors relative times; without it the first entry does.
 */
export function createEventLog({ t0 } = {}) {
  let rows = [];
  let bySeq = new Map(); // seq → row
  let folds = new Map(); // fold key → row (open for more members)
  let clientByEventId = new Map(); // client event_id → row
  let orphanErrors = new Map(); // event_id → [error rows] whose cause has not arrived (yet)
  let errors = [];
  let typeSet = new Set();
  let size = 0;
  let warmFrom = 0; // rows below this index have been offered to warmSearch
  let origin = Number.isFinite(t0) ? t0 : undefined;

  function newRow(kind, entry, ids) {
    const event = entry.event ?? {};
    const row = {
      index: rows.length,
      kind,
      seq: entry.seq,
      ts: entry.ts,
      lastTs: entry.ts,
      direction: entry.direction,
      type: typeof event.type === "string" ? event.type : "(no type)",
      entries: [entry],
      count: 1,
      text: "",
      bytes: 0,
      ids,
      level: levelOf(event),
      causeSeq: undefined,
      errorSeqs: [],
      version: 0,
      // Unknown directions get their own bit: shown unfiltered, hidden by any direction filter.
      dirBit: 1 << (DIRECTIONS.includes(entry.direction) ? DIRECTIONS.indexOf(entry.direction) : 3),
      // Lowercased search text, built on first search; a growing fold row drops it.
      _search: undefined,
    };
    rows.push(row);
    typeSet.add(row.type);
    return row;
  }

  function foldKey(entry, ids) {
    const e = entry.event;
    const part = e.content_index ?? e.output_index ?? "";
    const owner = ids.item_id ?? ids.response_id ?? "";
    return `${entry.direction}\u0000${e.type}\u0000${owner}\u0000${part}`;
  }

  function appendDelta(row, event) {
    if (typeof event.delta !== "string") return;
    if (AUDIO_DELTAS.has(event.type)) {
      // base64: 4 chars carry 3 bytes; padding makes this an estimate by at most 2 bytes.
      row.bytes += Math.floor((event.delta.length * 3) / 4);
    } else {
      row.text += event.delta;
    }
  }

  function linkError(row) {
    const causeId = str(row.entries[0].event?.error?.event_id);
    if (!causeId) return;
    const cause = clientByEventId.get(causeId);
    if (cause) {
      row.causeSeq = cause.seq;
      cause.errorSeqs.push(row.seq);
      cause.version++;
    } else {
      // The cause may be fed later (out-of-order import) or may not be recorded at all.
      const list = orphanErrors.get(causeId) ?? [];
      list.push(row);
      orphanErrors.set(causeId, list);
    }
  }

  function add(entry) {
    if (!entry || typeof entry !== "object") return { row: undefined, created: false };
    const seen = bySeq.get(entry.seq);
    if (seen) return { row: seen, created: false };
    if (origin === undefined && Number.isFinite(entry.ts)) origin = entry.ts;
    size++;
    const event = entry.event ?? {};
    const ids = keyIds(event);
    if (isFoldType(event.type)) {
      const key = foldKey(entry, ids);
      const open = folds.get(key);
      if (open) {
        open.entries.push(entry);
        open.count++;
        open.lastTs = entry.ts;
        appendDelta(open, event);
        open._search = undefined;
        open.version++;
        bySeq.set(entry.seq, open);
        return { row: open, created: false };
      }
      const row = newRow("fold", entry, ids);
      appendDelta(row, event);
      folds.set(key, row);
      bySeq.set(entry.seq, row);
      return { row, created: true };
    }
    const row = newRow("event", entry, ids);
    bySeq.set(entry.seq, row);
    const closes = deltaTypeClosedBy(event.type);
    if (closes) folds.delete(foldKey({ direction: entry.direction, event: { ...event, type: closes } }, ids));
    if (entry.direction === "client" && ids.event_id) {
      clientByEventId.set(ids.event_id, row);
      const waiting = orphanErrors.get(ids.event_id);
      if (waiting) {
        orphanErrors.delete(ids.event_id);
        for (const err of waiting) {
          err.causeSeq = row.seq;
          err.version++;
          row.errorSeqs.push(err.seq);
        }
      }
    }
    if (row.level === "error") {
      errors.push(row);
      linkError(row);
    }
    return { row, created: true };
  }

  function searchText(row) {
    if (row._search === undefined) {
      // The event JSON of the first entry carries the ids and the type; a fold adds its assembled text.
      let s = safeJson(row.entries[0].event);
      if (row.kind === "fold") s += "\n" + row.text;
      row._search = s.toLowerCase();
    }
    return row._search;
  }

  function test(row, c) {
    if ((row.dirBit & c.mask) === 0) return false;
    if (c.type && !c.type(row.type)) return false;
    if (c.text && !searchText(row).includes(c.text)) return false;
    return true;
  }

  return {
    add,
    addMany(entries) {
      let created = 0;
      for (const e of entries) if (add(e).created) created++;
      return created;
    },
    get rows() {
      return rows;
    },
    get size() {
      return size;
    },
    get errors() {
      return errors;
    },
    rowOf: (seq) => bySeq.get(seq),
    entryOf(seq) {
      const row = bySeq.get(seq);
      return row?.entries.find((e) => e.seq === seq);
    },
    types: () => [...typeSet].sort(),
    get t0() {
      return origin;
    },
    setT0(ts) {
      origin = Number.isFinite(ts) ? ts : undefined;
    },
    relTime: (ts) => (origin === undefined ? 0 : ts - origin),
    filter(f) {
      const c = compile(f);
      const out = new Int32Array(rows.length);
      let n = 0;
      if (c.mask === 15 && !c.type && !c.text) {
        for (let i = 0; i < rows.length; i++) out[i] = i;
        return out;
      }
      for (let i = 0; i < rows.length; i++) if (test(rows[i], c)) out[n++] = i;
      return out.subarray(0, n);
    },
    matches: (row, f) => test(row, compile(f)),
    /**
     * Builds the search text of up to `max` rows that lack it, oldest first; returns how many still lack it.
     * The first text search otherwise pays for all of them (~100 ms per 100k): call this when idle.
     */
    warmSearch(max = 5000) {
      let done = 0;
      while (warmFrom < rows.length && done < max) {
        const row = rows[warmFrom++];
        if (row._search === undefined) {
          searchText(row);
          done++;
        }
      }
      return rows.length - warmFrom;
    },
    /** A compiled filter for hot loops: `const m = log.matcher(f); m(row)`. */
    matcher(f) {
      const c = compile(f);
      return (row) => test(row, c);
    },
    clear() {
      rows = [];
      bySeq = new Map();
      folds = new Map();
      clientByEventId = new Map();
      orphanErrors = new Map();
      errors = [];
      typeSet = new Set();
      size = 0;
      warmFrom = 0;
      origin = Number.isFinite(t0) ? t0 : undefined;
    },
  };
}

function safeJson(v) {
  try {
    return JSON.stringify(v) ?? "";
  } catch {
    return "";
  }
}
