// The inspector's audio player: the session's two tracks in two <audio> elements kept in step on one clock
// on the events' clock (each track placed at its start), Play/Pause, the position, and the exports (a WAV per
// track and a stereo mix: the server's for PCM tracks; decoded and encoded here for WebM/Opus ones).
// The clock is audio.js's; every frame each element is told where to be (syncTrack), so a track that starts
// later, or ends sooner, waits or stops on its own. `onTick(pos, playing)` is called every frame it plays and
// on every seek. The button dispatches `audio:play` / `audio:pause` (the controller decides).

import { button, el, emit } from "../lib/dom.js";
import { audioClock, createClock, encodeWav, isEncoded, syncTrack } from "./audio.js";

/** Mounts the player on `element` (with the page's controls). Handle: see the bottom. */
export function mountPlayer(element, { sessionId, onTick = () => {} }) {
  const ctl = (name) => element.querySelector(`[data-act=${name}]`);
  const elements = {
    user: element.querySelector("audio[data-track=user]"),
    model: element.querySelector("audio[data-track=model]"),
  };
  const base = `/api/sessions/${encodeURIComponent(sessionId)}/audio`;
  const clock = createClock(() => performance.now());
  let model = null;
  let span = null;
  let frame = null;

  ctl("toggle").addEventListener("click", () => emit(element, clock.playing ? "audio:pause" : "audio:play"));

  function sync() {
    const pos = clock.pos();
    for (const [who, audio] of Object.entries(elements)) {
      const track = model?.tracks[who];
      if (!track) continue;
      const want = syncTrack(track, pos, clock.playing, audio.currentTime, clock.rate);
      if (want.seek !== null) audio.currentTime = want.seek;
      if (Math.abs(audio.playbackRate - want.rate) > 1e-6) audio.playbackRate = want.rate;
      if (want.play && audio.paused) audio.play().catch(() => {});
      else if (!want.play && !audio.paused) audio.pause();
    }
    ctl("pos").textContent = `${audioClock(pos - span.t0)} / ${audioClock(span.t1 - span.t0)}`;
    ctl("toggle").textContent = clock.playing ? "Pause audio" : "Play audio";
    onTick(pos, clock.playing);
  }

  function loop() {
    frame = null;
    if (!clock.playing) return;
    if (clock.pos() >= span.t1) {
      clock.pause();
      clock.seek(span.t1);
    }
    sync();
    if (clock.playing) frame = requestAnimationFrame(loop);
  }

  function download(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  async function decode(ctx, who) {
    const res = await fetch(`${base}/${who}`);
    if (!res.ok) throw new Error(`${who} track: HTTP ${res.status}`);
    return ctx.decodeAudioData(await res.arrayBuffer());
  }

  const channelsOf = (buf) => Array.from({ length: buf.numberOfChannels }, (_, c) => buf.getChannelData(c));

  /** A WebM/Opus track as a WAV, decoded with Web Audio. */
  async function exportTrack(who) {
    const ctx = new AudioContext({ sampleRate: 48000 }); // Opus is 48 kHz: decoded without resampling
    try {
      const buf = await decode(ctx, who);
      download(
        new Blob([encodeWav(channelsOf(buf), buf.sampleRate)], { type: "audio/wav" }),
        `${sessionId}-${who}.wav`,
      );
    } finally {
      ctx.close();
    }
  }

  /** The stereo mix (user left, model right) on the events' clock, rendered offline. */
  async function exportMix() {
    const ctx = new AudioContext({ sampleRate: 48000 }); // Opus is 48 kHz: decoded without resampling
    try {
      const present = ["user", "model"].filter((k) => model.tracks[k]);
      const bufs = Object.fromEntries(await Promise.all(present.map(async (k) => [k, await decode(ctx, k)])));
      const rate = Math.max(...present.map((k) => bufs[k].sampleRate));
      // Each part of a file where it is heard (a PCM track's chunks one after another; an Opus track whole).
      const t0 = Math.min(...present.map((k) => model.tracks[k].start));
      const end = (k) => {
        const last = model.tracks[k].segments.at(-1);
        return (last.at - t0) / 1000 + Math.max(last.ms / 1000, bufs[k].duration - last.file);
      };
      const seconds = Math.max(...present.map(end));
      const off = new OfflineAudioContext(2, Math.max(1, Math.ceil(seconds * rate)), rate);
      const merger = off.createChannelMerger(2);
      merger.connect(off.destination);
      for (const k of present) {
        // Mono through a one-channel gain, so each voice lands on its side alone.
        const mono = off.createGain();
        mono.channelCount = 1;
        mono.channelCountMode = "explicit";
        mono.connect(merger, 0, k === "user" ? 0 : 1);
        const segs = model.tracks[k].segments;
        segs.forEach((seg, i) => {
          const src = off.createBufferSource();
          src.buffer = bufs[k];
          src.connect(mono);
          // The last part plays to the end of the file (an Opus track's length is only known decoded).
          const length = i === segs.length - 1 ? undefined : seg.ms / 1000;
          src.start((seg.at - t0) / 1000, seg.file, length);
        });
      }
      const out = await off.startRendering();
      download(new Blob([encodeWav(channelsOf(out), rate)], { type: "audio/wav" }), `${sessionId}-mix.wav`);
    } finally {
      ctx.close();
    }
  }

  function exportButton(name, label, run) {
    const node = ctl(name);
    const b = button(label, "audio-export-btn", "Decoded and encoded as WAV in the browser");
    b.addEventListener("click", async () => {
      b.disabled = true;
      ctl("status").textContent = `Encoding ${label}…`;
      try {
        await run();
        ctl("status").textContent = "";
      } catch (e) {
        ctl("status").textContent = `Could not export ${label}: ${e.message ?? e}`;
      } finally {
        b.disabled = false;
      }
    });
    node.replaceChildren(b);
  }

  function exportLink(name, label, href) {
    ctl(name).replaceChildren(el("a", { href, download: "", text: label }));
  }

  function exports() {
    for (const who of ["user", "model"]) {
      const track = model.tracks[who];
      ctl(`wav-${who}`).hidden = !track;
      if (!track) continue;
      if (track.pcm) exportLink(`wav-${who}`, `${who} WAV`, `${base}/${who}?download=1`);
      else exportButton(`wav-${who}`, `${who} WAV`, () => exportTrack(who));
    }
    const tracks = Object.values(model.tracks);
    if (tracks.every((t) => !isEncoded(t.mime))) exportLink("mix", "stereo mix", `${base}/mix.wav`);
    else exportButton("mix", "stereo mix", exportMix);
  }

  return {
    /** Shows the player for `audio` (audio.js's audioModel, with a span) and points the elements at it. */
    load(audio) {
      model = audio;
      span = audio.span;
      for (const [who, node] of Object.entries(elements)) {
        if (model.tracks[who]) node.src = `${base}/${who}`;
        else node.removeAttribute("src");
      }
      clock.seek(span.t0);
      exports();
      element.hidden = false;
      sync();
    },
    get playing() {
      return clock.playing;
    },
    get rate() {
      return clock.rate;
    },
    pos: () => clock.pos(),
    play() {
      if (!model || clock.playing) return;
      if (clock.pos() >= span.t1) clock.seek(span.t0);
      clock.play();
      sync();
      if (frame === null) frame = requestAnimationFrame(loop);
    },
    pause() {
      if (!model) return;
      clock.pause();
      sync();
    },
    /**
     * Moves the clock to `ts` (events' clock), playing or not: before the audio starts too (an event before
     * it: the tracks wait for the clock to get there), not past its end.
     */
    seek(ts) {
      if (!model) return;
      clock.seek(Math.min(ts, span.t1));
      sync();
    },
    setRate(r) {
      clock.setRate(r);
      if (model) sync();
    },
  };
}
