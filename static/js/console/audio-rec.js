// The console page's audio recording: while a call is up and "record audio" is on, the microphone's track
// (what is sent up, so mute and push-to-talk record the silence the model got) and the model's track are
// each recorded by a MediaRecorder (WebM/Opus, a chunk a second) and the chunks uploaded by
// lib/audio-upload.js, which keeps the unacknowledged ones in IndexedDB across a reload.
//
// Each track is a little Web Audio graph: source → the peaks worklet → a MediaStreamAudioDestinationNode,
// which MediaRecorder records. Recording the destination rather than the track itself keeps one recording
// (one WebM file) when the microphone is switched mid-call, and makes the peaks (X-Audio-Peaks) those of the
// very samples recorded.
//
// The clock: chunk 0 starts at `Date.now()` (the events' `ts` is `Date.now()` too) just before
// `MediaRecorder.start()`, because the recording holds the samples from that call on: its `start` event
// comes 100–300 ms later, once the encoder is up, and timing from it put the tones that much late (measured by
// browser_audio.rs against a live listener on the same track; from the call they were within a few ms). Chunk
// k starts at that plus its BlobEvent's `timecode` minus chunk 0's (Chromium: ms of media from the first
// chunk), the media's own offset, which does not drift with the event loop. Where `timecode` is missing or
// goes backwards, the chunk starts where the previous one ended (`Date.now()` at its `dataavailable`).

import { BIN_MS, createPeakLine } from "../lib/audio-peaks.js";
import { openAudioStore } from "../lib/audio-store.js";
import { createAudioUploader, resumeAudio, toBase64 } from "../lib/audio-upload.js";
import { audioContext } from "./audio.js";

export const MIME = "audio/webm;codecs=opus";
export const SWITCH_KEY = "realtime-console.record-audio";
const WORKLET = "/static/js/console/peaks-worklet.js";
/** How long a finished chunk waits for the worklet's peaks to reach its end before it goes without them. */
const PEAKS_WAIT_MS = 400;
/** Opus at 32 kbit/s is transparent for one voice; Chromium's default (128 kbit/s) would be four times the bytes. */
const BITS_PER_SECOND = 32000;

/** Where chunk `index` starts on the events' clock (see the header); `prev` is the previous chunk's. */
export function chunkStart({ index, t0, timecode, firstTimecode, prevStart, prevEnd }) {
  if (index === 0) return t0;
  const byMedia = Number.isFinite(timecode) && Number.isFinite(firstTimecode) ? t0 + timecode - firstTimecode : NaN;
  return Number.isFinite(byMedia) && byMedia > prevStart ? byMedia : prevEnd;
}

const kib = (n) =>
  n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(0)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;

/** What the status text beside the switch says: `on` (the switch), `stats` (the uploader's, or null). */
export function audioText(on, stats) {
  if (!stats) return on ? "audio: on" : "audio: off";
  const secs = Math.round(Object.values(stats.tracks).reduce((m, t) => Math.max(m, t.seconds), 0));
  const head = `audio ${secs} s · ${kib(stats.uploadedBytes)} uploaded`;
  const pending = stats.pending ? ` · ${stats.pending} pending (${kib(stats.pendingBytes)})` : "";
  const err = stats.lastError;
  if (stats.state === "halted") return `${head}${pending} · stopped: ${err?.code ?? "refused"}`;
  if (stats.state === "backoff") return `${head}${pending} · retrying`;
  if (stats.persistError) return `${head}${pending} · not saved in this browser`;
  return head + pending;
}

let workletLoaded = null;

/** One track's recording: `setSource(stream | null)`, `stop()` → Promise once its last chunk is queued. */
async function recordTrack(ctx, track, uploader, now) {
  workletLoaded ??= ctx.audioWorklet.addModule(WORKLET);
  await workletLoaded;
  const peaks = createPeakLine();
  const node = new AudioWorkletNode(ctx, "console-peaks", {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    outputChannelCount: [1],
    channelCount: 1,
    channelCountMode: "explicit",
  });
  const dest = ctx.createMediaStreamDestination();
  dest.channelCount = 1;
  node.connect(dest);
  let epoch = null; // the events' clock at the worklet's frame 0
  node.port.onmessage = ({ data }) => {
    // The message leaves when frame `end` is rendered: the earliest arrival is the best estimate.
    const e = now() - (data.end / data.rate) * 1000;
    epoch = epoch === null ? e : Math.min(epoch, e);
    peaks.push(epoch + (data.frame / data.rate) * 1000, data.peaks);
  };
  let source = null;

  const mr = new MediaRecorder(dest.stream, { mimeType: MIME, audioBitsPerSecond: BITS_PER_SECOND });
  let t0 = null,
    firstTimecode = NaN,
    index = 0,
    prevStart = -Infinity,
    prevEnd = null;
  let chain = Promise.resolve(); // chunks are queued in seq order, each once its peaks are in
  const stopped = new Promise((resolve) => (mr.onstop = resolve));

  mr.ondataavailable = (e) => {
    const end = now();
    if (index === 0) firstTimecode = e.timecode;
    const start = chunkStart({ index, t0, timecode: e.timecode, firstTimecode, prevStart, prevEnd: prevEnd ?? t0 });
    const seq = index++;
    prevStart = start;
    prevEnd = end;
    if (!e.data.size) return;
    chain = chain.then(async () => {
      for (let waited = 0; peaks.coveredUntil() < end - BIN_MS && waited < PEAKS_WAIT_MS; waited += 50) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const cut = peaks.slice(start, end);
      peaks.forgetBefore(start);
      const body = e.data.type ? e.data : new Blob([e.data], { type: MIME });
      uploader.add({ track, seq, mime: MIME, start, peaks: toBase64(cut), body, seconds: (end - start) / 1000 });
    });
  };
  t0 = now();
  mr.start(1000);

  return {
    setSource(stream) {
      if (source) source.disconnect();
      source = null;
      if (stream) {
        source = ctx.createMediaStreamSource(stream);
        source.connect(node);
      }
    },
    async stop() {
      if (mr.state !== "inactive") mr.stop();
      await stopped;
      await chain;
      this.setSource(null);
      node.disconnect();
      node.port.onmessage = null;
    },
  };
}

/**
 * Mounts the switch (`input`, a checkbox; its state kept in `storage`) and the status text (`text`), and
 * returns the recording's controls: `begin(sessionId)` when a call's session exists, `setMic(track)`,
 * `setRemote(stream)`, `end()` when the call is over (→ Promise once the last chunks are queued), `stats()`.
 */
export function mountAudioRecording({ input, text, storage, fetch, now = () => Date.now() }) {
  const store = openAudioStore();
  let uploader = null;
  let tracks = null; // {user, model} while recording
  let mic = null,
    remote = null;
  let starting = null;
  let stopping = 0;

  const saved = storage?.getItem?.(SWITCH_KEY);
  input.checked = saved !== "off";
  const show = () => {
    const line = audioText(input.checked, uploader ? uploader.stats() : null);
    if (text.textContent !== line) text.textContent = line;
    text.dataset.state = uploader ? uploader.stats().state : "off";
  };
  input.addEventListener("change", () => {
    try {
      storage?.setItem?.(SWITCH_KEY, input.checked ? "on" : "off");
    } catch {
      // No storage: the switch holds for this page.
    }
    show();
  });
  input.title = "Record both voices of the next call (WebM/Opus, uploaded beside its events)";
  show();

  // What an earlier page left unacknowledged goes first.
  resumeAudio(store, { fetch }).catch(() => {});

  async function start(sessionId) {
    const ctx = audioContext();
    uploader = createAudioUploader({ sessionId, fetch, store, now });
    uploader.onChange(show);
    show();
    const user = await recordTrack(ctx, "user", uploader, now);
    const model = await recordTrack(ctx, "model", uploader, now);
    tracks = { user, model };
    user.setSource(mic);
    model.setSource(remote);
  }

  return {
    begin(sessionId) {
      if (tracks || starting) return;
      if (!input.checked) {
        uploader = null; // the last call's figures are not this one's
        return show();
      }
      starting = start(sessionId).catch((e) => {
        text.textContent = `audio not recorded: ${e?.message || e}`;
      });
    },
    setMic(track) {
      mic = track ? new MediaStream([track]) : null;
      tracks?.user.setSource(mic);
    },
    setRemote(stream) {
      remote = stream;
      tracks?.model.setSource(remote);
    },
    async end() {
      if (starting) await starting;
      starting = null;
      const t = tracks;
      const up = uploader;
      tracks = null;
      mic = null;
      remote = null;
      if (!t) return;
      stopping++;
      await Promise.all([t.user.stop(), t.model.stop()]);
      stopping--;
      // In the background: the uploader keeps retrying until every chunk is acknowledged.
      up.close();
    },
    /** The uploader's stats, and `recording` until the last chunk of the call is queued. */
    stats: () => (uploader ? { ...uploader.stats(), recording: !!tracks || stopping > 0 } : null),
  };
}
