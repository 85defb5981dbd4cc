// Peaks of a recorded track for the inspector's lanes: one byte per 20 ms, the max |sample| scaled to 0..255,
// on the events' clock. The worklet (console/peaks-worklet.js) measures them; this keeps them in a line and
// cuts the stretch each chunk covers. No DOM.

export const BIN_MS = 20;

/** A sample's magnitude (0..1, more is clipped) as a byte: 0 is silence, 255 full scale. */
export function scalePeak(max) {
  return Math.max(0, Math.min(255, Math.round(max * 255)));
}

/**
 * The peaks of one track, bin after bin. `push(startMs, values)` adds consecutive bins starting at `startMs`
 * (the first push fixes where bin 0 is; later ones are placed by rounding to the bin grid, so the jitter of
 * the clock mapping never shifts them); `slice(from, to)` → Uint8Array of the bins from `from` to `to`
 * (ms), 0 where nothing was measured; `coveredUntil()` → the end of the last bin (ms), or -Infinity.
 */
export function createPeakLine() {
  let origin = null;
  let bins = new Uint8Array(0);
  let length = 0;
  let dropped = 0; // bins forgotten before bins[0]

  function grow(n) {
    if (n <= bins.length) return;
    const next = new Uint8Array(Math.max(n, bins.length * 2, 256));
    next.set(bins.subarray(0, length));
    bins = next;
  }

  return {
    push(startMs, values) {
      if (origin === null) origin = startMs;
      const at = Math.round((startMs - origin) / BIN_MS) - dropped;
      if (at < 0) return;
      grow(at + values.length);
      for (let i = 0; i < values.length; i++) bins[at + i] = scalePeak(values[i]);
      length = Math.max(length, at + values.length);
    },
    coveredUntil() {
      return origin === null ? -Infinity : origin + (dropped + length) * BIN_MS;
    },
    slice(from, to) {
      const n = Math.max(0, Math.round((to - from) / BIN_MS));
      const out = new Uint8Array(n);
      if (origin === null) return out;
      const first = Math.round((from - origin) / BIN_MS) - dropped;
      for (let i = 0; i < n; i++) {
        const j = first + i;
        if (j >= 0 && j < length) out[i] = bins[j];
      }
      return out;
    },
    /** Frees the bins before `ms` (a chunk's peaks once it is cut). */
    forgetBefore(ms) {
      if (origin === null) return;
      const n = Math.min(length, Math.round((ms - origin) / BIN_MS) - dropped);
      if (n <= 0) return;
      bins.copyWithin(0, n, length);
      length -= n;
      dropped += n;
    },
  };
}
