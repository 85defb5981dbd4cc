// Unit tests of the log panel's virtual-list arithmetic (lib/virtual-list.js): `node --test static/js/test/`.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  OVERSCAN,
  atEnd,
  lowerBound,
  positionAt,
  positionOf,
  scrollToRow,
  step,
  totalHeight,
  viewportHeight,
  visibleRange,
} from "../lib/virtual-list.js";

const ROW = 22;

test("the rows drawn are the ones in view plus the overscan on each side", () => {
  // 10 000 rows, scrolled to row 100, a 220 px viewport (10 rows).
  const r = visibleRange({ scrollTop: 100 * ROW, viewportHeight: 220, rowHeight: ROW, count: 10_000 });
  assert.deepEqual(r, { first: 100 - OVERSCAN, last: 110 + OVERSCAN, offset: (100 - OVERSCAN) * ROW });
  // Half a row scrolled: the partly visible rows count.
  const half = visibleRange({ scrollTop: 100 * ROW + 11, viewportHeight: 220, rowHeight: ROW, count: 10_000 });
  assert.equal(half.first, 100 - OVERSCAN);
  assert.equal(half.last, 111 + OVERSCAN);
  // A custom overscan.
  assert.deepEqual(visibleRange({ scrollTop: 0, viewportHeight: 44, rowHeight: ROW, count: 100, overscan: 0 }), {
    first: 0,
    last: 2,
    offset: 0,
  });
});

test("the range is clipped to the list at both ends", () => {
  assert.deepEqual(visibleRange({ scrollTop: 0, viewportHeight: 220, rowHeight: ROW, count: 5 }), {
    first: 0,
    last: 5,
    offset: 0,
  });
  const end = visibleRange({ scrollTop: 990 * ROW, viewportHeight: 220, rowHeight: ROW, count: 1000 });
  assert.equal(end.last, 1000);
  assert.equal(end.first, 990 - OVERSCAN);
  // Empty list; or a list a filter emptied while it was scrolled far down: nothing to draw.
  assert.deepEqual(visibleRange({ scrollTop: 0, viewportHeight: 220, rowHeight: ROW, count: 0 }), {
    first: 0,
    last: 0,
    offset: 0,
  });
  const shrunk = visibleRange({ scrollTop: 500 * ROW, viewportHeight: 220, rowHeight: ROW, count: 3 });
  assert.equal(shrunk.last - shrunk.first, 0);
});

test("the list's height, the top row and the viewport an unsized host gets", () => {
  assert.equal(totalHeight(0, ROW), 0);
  assert.equal(totalHeight(100_000, ROW), 2_200_000);
  assert.equal(positionAt(0, ROW), 0);
  assert.equal(positionAt(ROW - 1, ROW), 0);
  assert.equal(positionAt(ROW * 7, ROW), 7);
  assert.equal(viewportHeight(300, 800), 300);
  assert.equal(viewportHeight(0, 800), 600, "not laid out yet: 600 px");
  assert.equal(viewportHeight(50_000, 800), 1600, "a host as tall as its content: two screens at most");
});

test("the list follows the end only when scrolled to it, within a row", () => {
  const at = (scrollTop) => atEnd({ scrollTop, viewportHeight: 200, scrollHeight: 1000, rowHeight: ROW });
  assert.equal(at(800), true);
  assert.equal(at(800 - ROW), true);
  assert.equal(at(800 - ROW - 1), false);
  assert.equal(at(0), false);
});

test("scrolling to a row: none when it is in view, else centred", () => {
  const to = (position, scrollTop) => scrollToRow({ position, rowHeight: ROW, scrollTop, viewportHeight: 220 });
  assert.equal(to(5, 0), null, "in view");
  assert.equal(to(9, 0), null, "the last whole row in view");
  assert.equal(to(10, 0), 10 * ROW - 110, "just below: centred");
  assert.equal(to(0, 5 * ROW), 0, "above, near the top: not past 0");
  assert.equal(to(500, 0), 500 * ROW - 110);
  assert.equal(to(4, 5 * ROW), 0, "above: centred, clipped at 0");
  assert.equal(to(50, 100 * ROW), 50 * ROW - 110);
});

test("positions in a filtered list map to row indices", () => {
  const shown = [2, 5, 9, 14];
  assert.equal(lowerBound(shown, 0), 0);
  assert.equal(lowerBound(shown, 5), 1);
  assert.equal(lowerBound(shown, 6), 2);
  assert.equal(lowerBound(shown, 99), 4);
  assert.equal(lowerBound([], 3), 0);
  assert.equal(positionOf(shown, 9, 20), 2);
  assert.equal(positionOf(shown, 6, 20), -1, "filtered out");
  assert.equal(positionOf(shown, -1, 20), -1, "no selection");
  assert.equal(positionOf(null, 7, 20), 7, "unfiltered: the index is the position");
  assert.equal(positionOf(null, 20, 20), -1, "beyond the list (cleared)");
});

test("the keyboard steps through the list and stops at its ends", () => {
  assert.equal(step(-1, 1, 10), 0, "from no selection: the first row");
  assert.equal(step(-1, -1, 10), 0);
  assert.equal(step(3, 1, 10), 4);
  assert.equal(step(3, -1, 10), 2);
  assert.equal(step(9, 1, 10), 9);
  assert.equal(step(0, -1, 10), 0);
  assert.equal(step(-1, 1, 0), 0, "empty: position 0, which has no row");
});
