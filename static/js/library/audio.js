// The inspector's audio, the parts without DOM: the lanes' waveform columns from the server's peaks, each
// turn's span and the barge-ins from the events, the player's one clock and how each track follows it, and
// the WAV encoder of the exports. Every time is on the events' clock (ms since the Unix epoch, like `ts`).

/** What `/audio/peaks` says when it does not say: one peak per 20 ms. */
export const PEAK_MS = 20;
/** A track this far (s) from where the clock says is sought again; closer, it catches up by its speed. */
export const DRIFT_S = 0.25;
/** How much faster (or slower) a track plays while it catches up: inaudible on a voice. */
export const CATCH_UP = 0.05;
/** Closer than this (s), a track plays at the clock's rate. */
const IN_STEP_S = 0.02;

/** Base64 → bytes (the peaks of a chunk). */
export function decodeBase64(b64) {
  const bin = atob(b64 ?? "");
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The formats the server reads (and serves as WAV): `{rate, bytesPerSample}` for `audio/pcm[;rate=N]`
 * (16-bit, 24 kHz unless it says) and G.711 (`audio/pcmu`, `audio/pcma`: 8 kHz, a byte a sample); null else.
 */
export function pcmFormat(mime) {
  const [kind, ...params] = String(mime ?? "")
    .split(";")
    .map((p) => p.trim().toLowerCase());
  if (kind === "audio/pcmu" || kind === "audio/pcma") return { rate: 8000, bytesPerSample: 1 };
  if (kind !== "audio/pcm" && kind !== "audio/l16") return null;
  const rate = Number(params.find((p) => p.startsWith("rate="))?.slice(5));
  return { rate: Number.isInteger(rate) && rate > 0 ? rate : 24000, bytesPerSample: 2 };
}

/**
 * Where each chunk of a PCM track is heard, as the server lays it out (realtime-store's `TrackInfo::layout`,
 * the same for the WAV it serves and its mix): a chunk starts at its own start, or where the one before it
 * ends if that is later (a WebSocket client sends faster than real time; the audio still plays one chunk
 * after another). → `[{at, file, ms}]`: events' clock, seconds into the served file, length in ms.
 */
export function pcmLayout(chunks, { rate, bytesPerSample }) {
  const out = [];
  let end = -Infinity;
  let file = 0;
  for (const c of chunks) {
    const samples = Math.floor(c.bytes / bytesPerSample);
    const at = Math.max(c.start, end);
    const ms = (samples * 1000) / rate;
    out.push({ at, file, ms });
    end = at + ms;
    file += samples / rate;
  }
  return out;
}

/** The console page records Opus at 32 kbit/s (console/audio-rec.js): bytes a ms, to guess a length. */
const OPUS_BYTES_PER_MS = 4;

/**
 * Where an Opus track without peaks (they are optional) ends, as well as can be said: a chunk after the last
 * as long as the chunks are apart on average (MediaRecorder slices at a fixed interval); one chunk alone,
 * from its size.
 */
function opusEnd(t) {
  const cs = t.chunks ?? [];
  if (cs.length >= 2) {
    const last = cs[cs.length - 1];
    return last.start + (last.start - cs[0].start) / (cs.length - 1);
  }
  return t.start + (t.bytes ?? 0) / OPUS_BYTES_PER_MS;
}

/**
 * `/audio` and `/audio/peaks` together: `{interval, tracks: {user?, model?}, span: {t0, t1} | null}`, each
 * track `{track, mime, start, end, pcm, segments, chunks: [{start, peaks: Uint8Array}]}`. `segments`
 * (`[{at, file, ms}]`, see pcmLayout) say where the served file is heard: a PCM track's chunks one after
 * another; an Opus track (one continuous recording) as one segment from its start. Its `end`: where the
 * last segment ends; an Opus track's, where its last peak does (the server cannot know its length).
 */
export function audioModel(listing, peaks) {
  const interval = peaks?.interval_ms || PEAK_MS;
  const tracks = {};
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const t of listing?.tracks ?? []) {
    const chunks = (peaks?.tracks?.[t.track] ?? []).map((c) => ({ start: c.start, peaks: decodeBase64(c.peaks) }));
    const format = pcmFormat(t.mime);
    let segments;
    let end;
    if (format) {
      segments = pcmLayout(t.chunks ?? [], format);
      // The peaks of a chunk go where it is heard.
      segments.forEach((seg, i) => {
        if (chunks[i]) chunks[i].start = seg.at;
      });
      const last = segments[segments.length - 1];
      end = last ? last.at + last.ms : (t.end ?? t.start);
    } else {
      end = t.end ?? t.start;
      for (const c of chunks) end = Math.max(end, c.start + c.peaks.length * interval);
      if (end === t.start) end = opusEnd(t);
      segments = [{ at: t.start, file: 0, ms: end - t.start }];
    }
    tracks[t.track] = { track: t.track, mime: t.mime ?? "", start: t.start, end, pcm: !!format, segments, chunks };
    t0 = Math.min(t0, t.start);
    t1 = Math.max(t1, end);
  }
  return { interval, tracks, span: t0 <= t1 ? { t0, t1 } : null };
}

/** Whether the server cannot decode a track's media type (WebM/Opus from MediaRecorder), so cannot mix it. */
export function isEncoded(mime) {
  return pcmFormat(mime) === null;
}

/**
 * The loudest peak (0–255) under each of `width` columns spanning [t0, t1]: one pass over the peaks, so a
 * 60-minute track (180,000 peaks) costs a few milliseconds. Returns a Uint8Array(width).
 */
export function laneColumns(chunks, { t0, t1, width, interval = PEAK_MS }) {
  const cols = new Uint8Array(Math.max(1, width));
  const per = width / (t1 - t0 || 1); // columns per ms
  for (const { start, peaks } of chunks) {
    const x0 = (start - t0) * per;
    const dx = interval * per;
    for (let i = 0; i < peaks.length; i++) {
      // A peak covers its 20 ms: more than one column when zoomed in (a short session), else one.
      const a = Math.floor(x0 + i * dx);
      const b = Math.min(width, Math.max(a + 1, Math.floor(x0 + (i + 1) * dx)));
      for (let x = Math.max(0, a); x < b; x++) if (peaks[i] > cols[x]) cols[x] = peaks[i];
    }
  }
  return cols;
}

/** The union of spans (`{t0, t1}` or null). */
export function unionSpan(...spans) {
  const real = spans.filter(Boolean);
  if (!real.length) return null;
  return { t0: Math.min(...real.map((s) => s.t0)), t1: Math.max(...real.map((s) => s.t1)) };
}

/** The event types the turns' spans and the barge-ins are read from (one server-filtered listing each). */
export const SPAN_TYPES = [
  "input_audio_buffer.speech_started",
  "input_audio_buffer.speech_stopped",
  "input_audio_buffer.timeout_triggered",
  "output_audio_buffer.started",
  "output_audio_buffer.stopped",
  "output_audio_buffer.cleared",
  "conversation.item.truncate",
  "response.output_audio.delta",
];

/** A barge-in this close (ms) to one already marked is the same one (a VAD interruption says it thrice). */
const SAME_BARGE_MS = 1000;

/**
 * Each turn's span, and the barge-ins, from the events (entries in seq order): `{spans, bargeIns}`.
 * - user: `speech_started.audio_start_ms` / `speech_stopped.audio_end_ms`, which count the audio the server
 *   received in the session, so are a time into the user's track: `userClock(ms)` says when that is heard
 *   (clockAt over the track's segments); without a user track, the events' own ts.
 * - model: `output_audio_buffer.started` → `stopped` / `cleared` (WebRTC), or the first and last
 *   `response.output_audio.delta` of a response (WebSocket, which has no output_audio_buffer events).
 * Span: `{who: "user"|"model", start, end, seq, itemId, responseId}`. Barge-in: `{ts, seq, why}` where why is
 * "speech" (user speech starting inside a model span), "cleared" or "truncate".
 */
export function turnSpans(entries, { userClock = null } = {}) {
  const spans = [];
  const marks = [];
  const openUser = new Map(); // item_id → span
  const buffered = new Map(); // response_id → span (output_audio_buffer)
  const deltas = new Map(); // response_id → span (output_audio.delta)
  const userAt = (entry, ms) => (userClock && Number.isFinite(ms) ? userClock(ms) : entry.ts);
  for (const entry of entries) {
    const ev = entry.event ?? {};
    switch (ev.type) {
      case "input_audio_buffer.speech_started": {
        const s = { who: "user", start: userAt(entry, ev.audio_start_ms), end: null, seq: entry.seq };
        s.itemId = ev.item_id;
        openUser.set(ev.item_id, s);
        spans.push(s);
        break;
      }
      case "input_audio_buffer.speech_stopped": {
        const s = openUser.get(ev.item_id);
        if (s) {
          s.end = Math.max(s.start, userAt(entry, ev.audio_end_ms));
          openUser.delete(ev.item_id);
        }
        break;
      }
      case "input_audio_buffer.timeout_triggered": {
        const s = { who: "user", start: userAt(entry, ev.audio_start_ms), seq: entry.seq, itemId: ev.item_id };
        s.end = Math.max(s.start, userAt(entry, ev.audio_end_ms));
        spans.push(s);
        break;
      }
      case "output_audio_buffer.started": {
        const s = { who: "model", start: entry.ts, end: null, seq: entry.seq, responseId: ev.response_id };
        buffered.set(ev.response_id, s);
        spans.push(s);
        break;
      }
      case "output_audio_buffer.stopped":
      case "output_audio_buffer.cleared": {
        const s = buffered.get(ev.response_id);
        if (s && s.end === null) s.end = entry.ts;
        if (ev.type === "output_audio_buffer.cleared") marks.push({ ts: entry.ts, seq: entry.seq, why: "cleared" });
        break;
      }
      case "conversation.item.truncate":
        marks.push({ ts: entry.ts, seq: entry.seq, why: "truncate" });
        break;
      case "response.output_audio.delta": {
        if (buffered.has(ev.response_id)) break;
        let s = deltas.get(ev.response_id);
        if (!s) {
          s = { who: "model", start: entry.ts, end: entry.ts, seq: entry.seq, responseId: ev.response_id };
          s.itemId = ev.item_id;
          deltas.set(ev.response_id, s);
          spans.push(s);
        }
        s.end = Math.max(s.end, entry.ts);
        break;
      }
    }
  }
  // A span never closed (the session ended mid-turn) ends where it starts: drawn as a tick, not to infinity.
  for (const s of spans) if (s.end === null) s.end = s.start;
  const model = spans.filter((s) => s.who === "model");
  for (const s of spans) {
    if (s.who !== "user") continue;
    if (model.some((m) => s.start > m.start && s.start < m.end)) marks.push({ ts: s.start, seq: s.seq, why: "speech" });
  }
  marks.sort((a, b) => a.ts - b.ts);
  const bargeIns = [];
  for (const m of marks) {
    const last = bargeIns[bargeIns.length - 1];
    if (!last || m.ts - last.ts > SAME_BARGE_MS) bargeIns.push(m);
  }
  return { spans, bargeIns };
}

/** An answer's audio starts this soon (ms) after its item is added, or it is not that item's. */
const ANSWER_WITHIN_MS = 5000;

/**
 * Where a transcript turn is heard: its span's start (matched by item, else response; an assistant turn
 * whose response is not known, the first model audio starting just after it), else its ts.
 */
export function turnStart(turn, spans) {
  const who = turn.role === "user" ? "user" : "model";
  const span =
    spans.find((s) => s.who === who && turn.itemId && s.itemId === turn.itemId) ??
    spans.find((s) => s.who === who && turn.responseId && s.responseId === turn.responseId) ??
    (who === "model" && !turn.responseId
      ? spans.find((s) => s.who === "model" && s.start >= turn.ts && s.start - turn.ts < ANSWER_WITHIN_MS)
      : undefined);
  return span ? span.start : turn.ts;
}

/**
 * The player's one clock on the events' clock: paused or running at `rate` from an anchor. `now` is
 * injected (performance.now in the page) so it can be tested.
 */
export function createClock(now, { start = 0 } = {}) {
  let anchorPos = start;
  let anchorWall = now();
  let playing = false;
  let rate = 1;
  const pos = () => (playing ? anchorPos + (now() - anchorWall) * rate : anchorPos);
  const reanchor = () => {
    anchorPos = pos();
    anchorWall = now();
  };
  return {
    pos,
    get playing() {
      return playing;
    },
    get rate() {
      return rate;
    },
    play() {
      reanchor();
      playing = true;
    },
    pause() {
      reanchor();
      playing = false;
    },
    seek(ts) {
      anchorPos = ts;
      anchorWall = now();
    },
    setRate(r) {
      reanchor();
      rate = r > 0 ? r : 1;
    },
  };
}

/**
 * Where a track's file stands when the clock is at `pos`: `{inside, time}` (s into the file). In a
 * segment: inside, that far into it. Before, between or after them: not inside, at the start of the next
 * segment (the end of the file after the last), so it starts from there when the clock gets there.
 */
export function trackTime(segments, pos) {
  let lo = 0;
  let hi = segments.length - 1;
  let i = -1; // the last segment starting at or before pos
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (segments[mid].at <= pos) {
      i = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const seg = segments[i];
  if (seg && pos < seg.at + seg.ms) return { inside: true, time: seg.file + (pos - seg.at) / 1000 };
  const next = segments[i + 1];
  if (next) return { inside: false, time: next.file };
  return { inside: false, time: seg ? seg.file + seg.ms / 1000 : 0 };
}

/** When `time` (s into a track's file) is heard, on the events' clock: the inverse of trackTime. */
export function clockAt(segments, time) {
  let lo = 0;
  let hi = segments.length - 1;
  let i = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (segments[mid].file <= time) {
      i = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const seg = segments[i];
  return seg ? seg.at + (time - seg.file) * 1000 : NaN;
}

/**
 * What a track's element should do for the clock at `pos` running at `rate`: `{play, seek, rate}` (seek: the
 * currentTime to set, in s, or null to leave it; rate: its playbackRate). Inside the track and playing:
 * play; sought only when it drifted past DRIFT_S, else a little faster or slower until it is in step again
 * (an element starts some 0.1 s late, and a seek to fix that would be late again). Otherwise paused, parked
 * at the place the clock stands for.
 */
export function syncTrack({ segments }, pos, playing, current, rate = 1) {
  const { inside, time } = trackTime(segments, pos);
  if (playing && inside) {
    const behind = time - current;
    if (Math.abs(behind) > DRIFT_S) return { play: true, seek: time, rate };
    const nudge = Math.abs(behind) < IN_STEP_S ? 0 : Math.sign(behind) * CATCH_UP;
    return { play: true, seek: null, rate: rate * (1 + nudge) };
  }
  return { play: false, seek: Math.abs(current - time) > 0.001 ? time : null, rate };
}

/** `1:02.3` (or `1:02:03.4`) for `ms` from the start of the audio. */
export function audioClock(ms) {
  const tenths = Math.floor(Math.max(0, ms) / 100);
  const s = Math.floor(tenths / 10);
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  const ss = `${String(s % 60).padStart(2, "0")}.${tenths % 10}`;
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** The last index in `rows` (sorted by ts, near enough) whose ts ≤ pos, or -1. */
export function rowAtTime(rows, pos) {
  let lo = 0;
  let hi = rows.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid].ts <= pos) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/**
 * The transcript turn heard at `pos`: the one whose span holds it, else the last one started by then, or
 * undefined. `start(turn)` is where a turn is heard (turnStart).
 */
export function turnAtTime(turns, spans, pos) {
  let best;
  let bestStart = -Infinity;
  for (const t of turns) {
    const start = turnStart(t, spans);
    if (start <= pos && start >= bestStart) {
      best = t;
      bestStart = start;
    }
  }
  return best;
}

/**
 * A 16-bit PCM WAV of `channels` (Float32Arrays of equal length, −1..1; interleaved in the file) at
 * `sampleRate`. Returns a Uint8Array.
 */
export function encodeWav(channels, sampleRate) {
  const n = channels.length ? channels[0].length : 0;
  const count = Math.max(1, channels.length);
  const dataLen = n * count * 2;
  const out = new Uint8Array(44 + dataLen);
  const v = new DataView(out.buffer);
  const ascii = (at, s) => {
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  };
  ascii(0, "RIFF");
  v.setUint32(4, 36 + dataLen, true);
  ascii(8, "WAVEfmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, count, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * count * 2, true);
  v.setUint16(32, count * 2, true);
  v.setUint16(34, 16, true);
  ascii(36, "data");
  v.setUint32(40, dataLen, true);
  let at = 44;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < channels.length; c++) {
      const x = Math.max(-1, Math.min(1, channels[c][i]));
      v.setInt16(at, Math.round(x < 0 ? x * 0x8000 : x * 0x7fff), true);
      at += 2;
    }
  }
  return out;
}
