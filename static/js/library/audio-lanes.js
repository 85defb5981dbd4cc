// The inspector's two audio lanes under the timeline strip: the user's and the model's waveform from the
// server's peaks, each turn's span behind them, the barge-ins across both, and the player's cursor. The
// waveforms are drawn once per span into an offscreen canvas, so moving the cursor every frame is one copy.
// Clicking a lane dispatches `audio:seek` {detail: {ts}} (on a barge-in's mark: a moment before it). Colours
// come from CSS custom properties (CSP: no inline styles).

import { emit } from "../lib/dom.js";
import { laneColumns } from "./audio.js";

const LANES = ["user", "model"];
/** A click this close (canvas px) to a barge-in's mark is on it; it plays from this long (ms) before it. */
const BARGE_HIT_PX = 5;
const BARGE_LEAD_MS = 1500;

function cssVar(el, name, fallback) {
  return getComputedStyle(el).getPropertyValue(name).trim() || fallback;
}

/** Mounts the lanes on `element` (holding a canvas). Handle: `{draw({model, span, spans, bargeIns}), setCursor(ts)}`. */
export function mountLanes(element) {
  const canvas = element.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const back = document.createElement("canvas");
  let data = null;
  let cursor = null;

  const xOf = (ts) => ((ts - data.span.t0) / (data.span.t1 - data.span.t0 || 1)) * canvas.width;

  function wave(g, track, mid, half, width, who) {
    const cols = laneColumns(track.chunks, {
      t0: data.span.t0,
      t1: data.span.t1,
      width,
      interval: data.model.interval,
    });
    g.fillStyle = cssVar(element, `--al-${who}`, who === "user" ? "#2563eb" : "#15803d");
    for (let x = 0; x < width; x++) {
      if (!cols[x]) continue;
      // Square root: quiet speech still shows, loud speech does not flatten everything else.
      const h = Math.max(1, Math.round(Math.sqrt(cols[x] / 255) * half));
      g.fillRect(x, mid - h, 1, 2 * h);
    }
  }

  function paintBack() {
    const { width, height } = canvas;
    back.width = width;
    back.height = height;
    const g = back.getContext("2d");
    g.clearRect(0, 0, width, height);
    if (!data?.span) return;
    const laneH = height / 2;
    g.font = "11px system-ui, sans-serif";
    g.textBaseline = "middle";
    LANES.forEach((who, lane) => {
      const top = lane * laneH;
      const mid = top + laneH / 2;
      g.fillStyle = cssVar(element, `--al-${who}-span`, "rgba(127,127,127,.15)");
      for (const s of data.spans ?? []) {
        if (s.who !== who) continue;
        const x0 = xOf(s.start);
        g.fillRect(Math.floor(x0), top + 1, Math.max(2, Math.ceil(xOf(s.end) - x0)), laneH - 2);
      }
      const track = data.model.tracks[who];
      if (track) wave(g, track, mid, laneH / 2 - 2, width, who);
      // The lane's name over its start: the lanes line up with the strip above, so no margin for it.
      g.fillStyle = cssVar(element, "--al-label", "#6b7280");
      g.fillText(who, 4, mid);
    });
    g.fillStyle = cssVar(element, "--al-barge", "#dc2626");
    for (const b of data.bargeIns ?? []) {
      const x = Math.round(xOf(b.ts));
      g.fillRect(x - 1, 0, 2, height);
      g.beginPath();
      g.moveTo(x - 5, 0);
      g.lineTo(x + 5, 0);
      g.lineTo(x, 7);
      g.fill();
    }
  }

  function paint() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(back, 0, 0);
    if (cursor !== null && data?.span) {
      ctx.fillStyle = cssVar(element, "--al-cursor", "#111827");
      ctx.fillRect(Math.round(xOf(cursor)), 0, 1, canvas.height);
    }
  }

  canvas.addEventListener("click", (e) => {
    if (!data?.span) return;
    const rect = canvas.getBoundingClientRect();
    const x = ((e.clientX - rect.left) / rect.width) * canvas.width;
    // On a barge-in's mark: from a moment before it, to hear it happen.
    const barge = (data.bargeIns ?? []).find((b) => Math.abs(xOf(b.ts) - x) <= BARGE_HIT_PX);
    const f = Math.min(1, Math.max(0, x / canvas.width));
    const ts = barge ? barge.ts - BARGE_LEAD_MS : data.span.t0 + f * (data.span.t1 - data.span.t0);
    emit(element, "audio:seek", { ts });
  });

  return {
    /** `model`: audio.js's audioModel; `span`: the strip's {t0, t1}; spans and bargeIns: turnSpans'. */
    draw(next) {
      data = next;
      element.hidden = false;
      paintBack();
      paint();
    },
    setCursor(ts) {
      cursor = ts;
      if (data) paint();
    },
  };
}
