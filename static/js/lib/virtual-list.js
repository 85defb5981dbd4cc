// The arithmetic of a virtualized list of fixed-height rows (the log panel's): which rows a scroll offset
// shows, how tall the list is, where to scroll to bring a row into view, and how a filtered list's
// positions map to row indices. No DOM: the panel measures, these decide.

/** Rows drawn beyond each edge of the viewport, so a small scroll never shows a blank strip. */
export const OVERSCAN = 8;

/** Height of the whole list (the spacer that gives the scrollbar its size). */
export function totalHeight(count, rowHeight) {
  return count * rowHeight;
}

/**
 * The viewport height to lay out for: the list's own height (600 px when it has none yet), but never more
 * than two screens, whatever an unsized host claims.
 */
export function viewportHeight(clientHeight, windowHeight) {
  return Math.min(clientHeight || 600, windowHeight * 2);
}

/** Position of the row at the top edge for a scroll offset. */
export function positionAt(scrollTop, rowHeight) {
  return Math.floor(scrollTop / rowHeight);
}

/**
 * The positions to draw: `first` (inclusive) to `last` (exclusive), with `overscan` rows each side, and
 * `offset`, the px the drawn rows are moved down by.
 */
export function visibleRange({ scrollTop, viewportHeight: height, rowHeight, count, overscan = OVERSCAN }) {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((scrollTop + height) / rowHeight) + overscan);
  return { first, last: Math.max(first, last), offset: first * rowHeight };
}

/** Whether the list is scrolled to its end (within one row): new rows should keep it there. */
export function atEnd({ scrollTop, viewportHeight: height, scrollHeight, rowHeight }) {
  return scrollTop + height >= scrollHeight - rowHeight;
}

/**
 * The scroll offset that brings the row at `position` into view, centred; `null` when it is in view
 * already (then the list should not move).
 */
export function scrollToRow({ position, rowHeight, scrollTop, viewportHeight: height }) {
  const top = position * rowHeight;
  if (top >= scrollTop && top + rowHeight <= scrollTop + height) return null;
  return Math.max(0, top - height / 2);
}

/** The first position in ascending `sorted` whose value is ≥ `value` (`sorted.length` if none). */
export function lowerBound(sorted, value) {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Position of row `index` in the list shown: `shown` holds the ascending row indices a filter keeps, or is
 * null when every one of `count` rows shows. -1 when the row is not shown (or `index` is -1).
 */
export function positionOf(shown, index, count) {
  if (index < 0) return -1;
  if (!shown) return index < count ? index : -1;
  const pos = lowerBound(shown, index);
  return shown[pos] === index ? pos : -1;
}

/** The position a keyboard step (`delta` ±1) from `position` lands on; from nothing (-1), the first row. */
export function step(position, delta, count) {
  return Math.max(0, Math.min(count - 1, position < 0 ? 0 : position + delta));
}
