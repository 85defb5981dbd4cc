// Unit tests of the log panel's filtered view (lib/log-view.js): `node --test static/js/test/`.

import assert from "node:assert/strict";
import { test } from "node:test";

import { createEventLog } from "../lib/eventlog.js";
import { createLogView, isUnfiltered, normalizeFilter } from "../lib/log-view.js";
import { builder } from "./fixtures.js";

/** A log with a view, and a way to add an entry as the panel does. */
function setup(filter) {
  const log = createEventLog();
  const view = createLogView(log, filter);
  return { log, view, add: (entry) => view.added(log.add(entry)) };
}

const delta = (d) => ({
  type: "response.output_text.delta",
  response_id: "r1",
  item_id: "i1",
  output_index: 0,
  content_index: 0,
  delta: d,
});

test("a filter has every field; all three directions and nothing else is no filter", () => {
  assert.deepEqual(normalizeFilter(), { directions: ["client", "server", "system"], type: "", text: "" });
  assert.deepEqual(normalizeFilter({ directions: new Set(["client"]), type: "error" }), {
    directions: ["client"],
    type: "error",
    text: "",
  });
  assert.equal(isUnfiltered(normalizeFilter({ type: "  ", text: "" })), true);
  assert.equal(isUnfiltered(normalizeFilter({ directions: ["client", "server"] })), false);
  assert.equal(isUnfiltered(normalizeFilter({ text: "x" })), false);
});

test("unfiltered, a position is a row index", () => {
  const { log, view, add } = setup();
  const b = builder();
  for (let i = 0; i < 3; i++) add(b.server({ type: "session.updated", event_id: `e${i}` }));
  assert.equal(view.count(), 3);
  assert.equal(view.rowAt(2), log.rows[2]);
  assert.equal(view.positionOf(1), 1);
  assert.equal(view.nearest(1), 1);
});

test("new rows join the list when they match; a filter change refilters what is held", () => {
  const { log, view, add } = setup({ directions: ["client"] });
  const b = builder();
  assert.equal(add(b.server({ type: "session.created" })), false);
  add(b.client({ type: "response.create", event_id: "c1" }));
  add(b.server({ type: "response.created" }));
  add(b.client({ type: "response.cancel", event_id: "c2" }));
  assert.equal(view.count(), 2);
  assert.deepEqual([view.rowAt(0).type, view.rowAt(1).type], ["response.create", "response.cancel"]);
  assert.equal(view.positionOf(0), -1, "session.created is hidden");
  assert.equal(view.positionOf(3), 1);
  assert.equal(view.nearest(2), 1, "a hidden row: the next one shown");
  view.setFilter({ type: "response" });
  assert.equal(view.count(), 2, "not applied before refilter()");
  view.refilter();
  assert.equal(view.count(), 3);
  assert.deepEqual(view.filter, { directions: ["client", "server", "system"], type: "response", text: "" });
  view.setFilter({});
  view.refilter();
  assert.equal(view.count(), log.rows.length);
});

test("a fold that grows under a text search asks for a refilter; clearing keeps the filter", () => {
  const { log, view, add } = setup({ text: "paris" });
  const b = builder();
  assert.equal(add(b.server(delta("The capital "))), false, "a new row: matched at once (it does not)");
  assert.equal(view.count(), 0);
  assert.equal(add(b.server(delta("is Paris"))), true, "the fold grew: it may match now");
  view.refilter();
  assert.equal(view.count(), 1);
  log.clear();
  view.cleared();
  assert.equal(view.count(), 0);
  assert.equal(view.filter.text, "paris");
  // Without a text search a growing fold cannot start to match.
  const other = setup({ type: "response" });
  const b2 = builder();
  other.add(b2.server(delta("a")));
  assert.equal(other.add(b2.server(delta("b"))), false);
});
