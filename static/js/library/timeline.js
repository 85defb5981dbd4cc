// The inspector's timeline strip: event density over the session's time, its turns and errors, and where a
// click lands. `densityBuckets` is pure; `mountTimeline` draws on a canvas (no inline styles: CSP).

import { emit } from "../lib/dom.js";

/**
 * Spreads the events between consecutive samples ({ingest_no, ts}) evenly over their time span.
 * Returns { t0, t1, counts: Float64Array(width) }: over the samples' own span, or over `over` ({t0, t1}, a
 * wider one: the session's audio may start before its first event and end after its last).
 */
export function densityBuckets(points, width, over = null) {
  const counts = new Float64Array(Math.max(1, width));
  if (!points.length) return { t0: over?.t0 ?? 0, t1: over?.t1 ?? 0, counts };
  const ts = points.map((p) => p.ts);
  const t0 = over ? over.t0 : Math.min(...ts);
  const t1 = over ? over.t1 : Math.max(...ts);
  const span = t1 - t0 || 1;
  const at = (t) => Math.min(width - 1, Math.max(0, Math.floor(((t - t0) / span) * width)));
  counts[at(points[0].ts)] += 1;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1],
      b = points[i];
    const n = b.ingest_no - a.ingest_no;
    const lo = at(Math.min(a.ts, b.ts)),
      hi = at(Math.max(a.ts, b.ts));
    const per = n / (hi - lo + 1);
    for (let x = lo; x <= hi; x++) counts[x] += per;
  }
  return { t0, t1, counts };
}

/** The time under x (0..width) of a strip spanning [t0, t1]. */
export function timeAt(x, width, t0, t1) {
  return t0 + (Math.min(Math.max(x, 0), width) / width) * (t1 - t0);
}

/** The mark (turn or error) nearest to `ts`, or undefined. */
export function nearest(marks, ts) {
  let best;
  for (const m of marks) if (!best || Math.abs(m.ts - ts) < Math.abs(best.ts - ts)) best = m;
  return best;
}

function cssVar(el, name, fallback) {
  return getComputedStyle(el).getPropertyValue(name).trim() || fallback;
}

/**
 * Draws `timeline` ({points, turns, errors}) into `element`'s canvas. Clicking dispatches `timeline:jump`
 * {detail: {ts, seq}} (seq: the nearest sample, turn or error). Returns { draw(timeline), setSpan(span),
 * setCursor(ts) }; `setSpan({t0, t1})` widens the strip to the audio lanes' span, so the two line up.
 */
export function mountTimeline(element) {
  const canvas = element.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  let data = { points: [], turns: [], errors: [] };
  let model = densityBuckets([], canvas.width);
  let cursor = null;
  let span = null;

  function draw() {
    const { width, height } = canvas;
    ctx.clearRect(0, 0, width, height);
    const max = Math.max(1, ...model.counts);
    ctx.fillStyle = cssVar(element, "--tl-bar", "#93c5fd");
    for (let x = 0; x < width; x++) {
      const h = Math.round((model.counts[x] / max) * (height - 14));
      if (h > 0) ctx.fillRect(x, height - h, 1, h);
    }
    const xOf = (ts) => ((ts - model.t0) / (model.t1 - model.t0 || 1)) * width;
    ctx.fillStyle = cssVar(element, "--tl-turn", "#2563eb");
    for (const t of data.turns) ctx.fillRect(Math.round(xOf(t.ts)), 0, 2, 8);
    ctx.fillStyle = cssVar(element, "--tl-error", "#dc2626");
    for (const e of data.errors) ctx.fillRect(Math.round(xOf(e.ts)) - 1, 0, 3, height);
    if (cursor !== null) {
      ctx.fillStyle = cssVar(element, "--tl-cursor", "#111827");
      ctx.fillRect(Math.round(xOf(cursor)), 0, 1, height);
    }
  }

  canvas.addEventListener("click", (e) => {
    if (!data.points.length) return;
    const rect = canvas.getBoundingClientRect();
    const ts = timeAt(((e.clientX - rect.left) / rect.width) * canvas.width, canvas.width, model.t0, model.t1);
    const near = nearest([...data.points, ...data.turns, ...data.errors], ts);
    emit(element, "timeline:jump", { ts, seq: near?.seq });
  });
  // The colours are the scheme's, read when drawing: draw again when the scheme changes.
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", draw);

  return {
    draw(timeline) {
      data = timeline;
      model = densityBuckets(timeline.points, canvas.width, span);
      draw();
    },
    setSpan(next) {
      span = next;
      model = densityBuckets(data.points, canvas.width, span);
      draw();
    },
    setCursor(ts) {
      cursor = ts;
      draw();
    },
  };
}
