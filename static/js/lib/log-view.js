// The rows of an event log (lib/eventlog.js) that the log panel's filter shows, kept up to date as entries
// arrive, and the positions of the list they make. No DOM: the panel draws positions, this says what is
// at them.

import { lowerBound, positionOf } from "./virtual-list.js";

const ALL = ["client", "server", "system"];

/** `{directions, type, text}` with every field present (directions: all three unless given). */
export function normalizeFilter(x = {}) {
  return { directions: x.directions ? [...x.directions] : [...ALL], type: x.type ?? "", text: x.text ?? "" };
}

export function isUnfiltered(f) {
  return f.directions.length === 3 && !f.type.trim() && !f.text.trim();
}

/**
 * The view of `log` under `filter`. `shown` is null while nothing is filtered (position = row index), else
 * the ascending indices of the matching rows.
 */
export function createLogView(log, filter) {
  let f = normalizeFilter(filter);
  let matcher = log.matcher(f);
  let shown = isUnfiltered(f) ? null : [];

  return {
    get filter() {
      return f;
    },
    /** Takes a new filter; `refilter()` applies it to the rows already held. */
    setFilter(next) {
      f = normalizeFilter(next);
      matcher = log.matcher(f);
    },
    refilter() {
      shown = isUnfiltered(f) ? null : Array.from(log.filter(f));
    },
    /**
     * After `log.add(entry)` returned `{row, created}`: a new matching row joins the list. → true when a
     * fold row grew under a text search, so it may match now: refilter (soon, not per delta).
     */
    added({ row, created }) {
      if (!row || !shown) return false;
      if (created) {
        if (matcher(row)) shown.push(row.index);
        return false;
      }
      return !!f.text.trim();
    },
    /** The log was cleared. */
    cleared() {
      shown = isUnfiltered(f) ? null : [];
    },
    count: () => (shown ? shown.length : log.rows.length),
    rowAt: (pos) => log.rows[shown ? shown[pos] : pos],
    /** Position of row `index` in the list, -1 when the filter hides it. */
    positionOf: (index) => positionOf(shown, index, log.rows.length),
    /** The position of row `index`, or of the first row after it that shows. */
    nearest: (index) => (shown ? lowerBound(shown, index) : index),
  };
}
