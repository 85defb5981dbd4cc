// browser_audio.rs's helpers in the console page (run through WebDriver; `include_str!`): a live listener on
// the microphone's track that notes, on the events' clock (Date.now()), when each tone begins; and the
// analysis of a recorded track fetched from the console and decoded with Web Audio.
window.audioProbe = (() => {
  const WIN_MS = 10;

  /** Goertzel power of `hz` in samples[from, from+n). */
  function goertzel(samples, from, n, rate, hz) {
    const k = (2 * Math.cos((2 * Math.PI * hz) / rate));
    let s1 = 0,
      s2 = 0;
    for (let i = from; i < from + n; i++) {
      const s0 = samples[i] + k * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    return (s1 * s1 + s2 * s2 - k * s1 * s2) / (n * n);
  }

  /** "440", "880" or "" (silence) for samples[from, from+n). */
  function classify(samples, from, n, rate) {
    let sum = 0;
    for (let i = from; i < from + n; i++) sum += samples[i] * samples[i];
    const rms = Math.sqrt(sum / n);
    if (rms < 0.02) return "";
    const a = goertzel(samples, from, n, rate, 440);
    const b = goertzel(samples, from, n, rate, 880);
    return a > b ? "440" : "880";
  }

  /** Runs of one class, `[{tone, from, to}]` in ms from the start; runs under 40 ms are merged away. */
  function segments(samples, rate) {
    const n = Math.round((rate * WIN_MS) / 1000);
    const runs = [];
    for (let i = 0; i + n <= samples.length; i += n) {
      const tone = classify(samples, i, n, rate);
      const t = (i / rate) * 1000;
      const last = runs[runs.length - 1];
      if (last && last.tone === tone) last.to = t + WIN_MS;
      else runs.push({ tone, from: t, to: t + WIN_MS });
    }
    const out = [];
    for (const r of runs) {
      const last = out[out.length - 1];
      if (last && (r.to - r.from < 40 || last.tone === r.tone)) last.to = r.to;
      else out.push({ ...r });
    }
    return out;
  }

  /** Spans of loud windows (`[{t, loud}]`, ascending), quiet gaps under 300 ms bridged (a word's pause). */
  function spans(windows) {
    const out = [];
    for (const { t, loud } of windows) {
      if (!loud) continue;
      const last = out[out.length - 1];
      if (last && t - last.to < 300) last.to = t + WIN_MS;
      else out.push({ from: t, to: t + WIN_MS });
    }
    return out.filter((s) => s.to - s.from >= 50);
  }

  let live = null;

  return {
    /**
     * Starts listening to the call's microphone track: when each tone begins, as the page hears it. Every
     * 20 ms the newest 170 ms of the track (an AnalyserNode's buffer) are read; when a tone has begun since,
     * its onset is dated `Date.now()` at that read less the onset's age in the buffer, so a late timer does
     * not make it late.
     */
    listen() {
      const track = window.consoleDebug.micTrack();
      if (!track) throw new Error("no microphone track");
      const ctx = new AudioContext();
      const source = ctx.createMediaStreamSource(new MediaStream([track]));
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 8192;
      source.connect(analyser);
      const buf = new Float32Array(analyser.fftSize);
      const rate = ctx.sampleRate;
      const n = Math.round((rate * WIN_MS) / 1000);
      // Until the analyser's buffer has filled, its zeros look like silence before a tone already playing.
      const trustFrom = Date.now() + ((buf.length / rate) * 1000 + 100);
      live = { ctx, onsets: [], last: "" };
      live.timer = setInterval(() => {
        analyser.getFloatTimeDomainData(buf);
        const readAt = Date.now();
        const tone = classify(buf, buf.length - n, n, rate);
        if (tone && tone !== live.last) {
          let i = buf.length - n;
          while (i - n >= 0 && classify(buf, i - n, n, rate) === tone) i -= n;
          // A tone already on when the buffer begins (the listener started during it) has no onset here.
          const at = readAt - ((buf.length - i) / rate) * 1000;
          if (i - n >= 0 && at > trustFrom) live.onsets.push({ tone, at, readAt });
        }
        live.last = tone;
      }, 20);
      return rate;
    },
    /**
     * Starts listening to the model's track as the page plays it (the `<audio>` element's stream): 10 ms
     * windows, loud or quiet, each dated like `listen`'s onsets. `stopSounds()` → the spans of sound
     * `[{from, to}]` (Date.now() ms), quiet gaps under 300 ms bridged.
     */
    listenRemote() {
      const stream = document.getElementById("remote-audio").srcObject;
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 8192;
      ctx.createMediaStreamSource(stream).connect(analyser);
      const buf = new Float32Array(analyser.fftSize);
      const rate = ctx.sampleRate;
      const n = Math.round((rate * WIN_MS) / 1000);
      const remote = { ctx, windows: [], lastCtx: ctx.currentTime };
      remote.timer = setInterval(() => {
        analyser.getFloatTimeDomainData(buf);
        const readAt = Date.now();
        const fresh = Math.min(buf.length, Math.round((ctx.currentTime - remote.lastCtx) * rate));
        remote.lastCtx = ctx.currentTime;
        for (let i = buf.length - Math.floor(fresh / n) * n; i + n <= buf.length; i += n) {
          let sum = 0;
          for (let j = i; j < i + n; j++) sum += buf[j] * buf[j];
          remote.windows.push([readAt - ((buf.length - i) / rate) * 1000, Math.sqrt(sum / n) > 0.01]);
        }
      }, 20);
      live = { ...(live ?? {}), remote };
    },
    stopSounds() {
      const { remote } = live;
      clearInterval(remote.timer);
      remote.ctx.close();
      return spans(remote.windows.map(([t, loud]) => ({ t, loud })));
    },
    /** Spans of sound in a recorded track (the same test as `stopSounds`), on the events' clock. */
    async recordedSounds(sessionId, track) {
      const base = `/api/sessions/${encodeURIComponent(sessionId)}/audio`;
      const listing = await (await fetch(base)).json();
      const start = listing.tracks.find((t) => t.track === track).chunks[0].start;
      const bytes = await (await fetch(`${base}/${track}`)).arrayBuffer();
      const decoded = await new OfflineAudioContext(1, 1, 48000).decodeAudioData(bytes);
      const samples = decoded.getChannelData(0);
      const rate = decoded.sampleRate;
      const n = Math.round((rate * WIN_MS) / 1000);
      const windows = [];
      for (let i = 0; i + n <= samples.length; i += n) {
        let sum = 0;
        for (let j = i; j < i + n; j++) sum += samples[j] * samples[j];
        windows.push({ t: start + (i / rate) * 1000, loud: Math.sqrt(sum / n) > 0.01 });
      }
      return spans(windows);
    },
    stopListening() {
      clearInterval(live.timer);
      live.ctx.close();
      return live.onsets;
    },

    /**
     * The session's `track`, fetched and decoded: its listing (GET …/audio), the decoded duration, the tone
     * segments with their times on the events' clock (chunk 0's start + the offset in the decoded track), and
     * RMS in windows: `windows` `[[fromMs, toMs]]` on the events' clock → `rms`.
     */
    async analyse(sessionId, track, windows = []) {
      const base = `/api/sessions/${encodeURIComponent(sessionId)}/audio`;
      const listing = await (await fetch(base)).json();
      const info = listing.tracks.find((t) => t.track === track);
      if (!info) throw new Error(`no ${track} track: ${JSON.stringify(listing)}`);
      const res = await fetch(`${base}/${track}`);
      const bytes = await res.arrayBuffer();
      const out = await this.analyseBytes(bytes, info.chunks[0].start, windows);
      return { ...out, contentType: res.headers.get("content-type"), chunks: info.chunks.length };
    },

    async analyseBytes(bytes, start, windows = []) {
      const size = bytes.byteLength; // decodeAudioData detaches the buffer
      const ctx = new OfflineAudioContext(1, 1, 48000);
      const decoded = await ctx.decodeAudioData(bytes);
      const samples = decoded.getChannelData(0);
      const rate = decoded.sampleRate;
      const segs = segments(samples, rate).map((s) => ({ ...s, at: start + s.from, end: start + s.to }));
      const rms = windows.map(([from, to]) => {
        const a = Math.max(0, Math.round(((from - start) / 1000) * rate));
        const b = Math.min(samples.length, Math.round(((to - start) / 1000) * rate));
        let sum = 0,
          max = 0,
          first = -1,
          last = -1;
        for (let i = a; i < b; i++) {
          const v = Math.abs(samples[i]);
          sum += v * v;
          max = Math.max(max, v);
          if (v > 0.01) {
            if (first < 0) first = i;
            last = i;
          }
        }
        const at = (i) => (i < 0 ? null : start + (i / rate) * 1000);
        return {
          from,
          to,
          samples: Math.max(0, b - a),
          rms: b > a ? Math.sqrt(sum / (b - a)) : null,
          max,
          firstSound: at(first),
          lastSound: at(last),
        };
      });
      return { bytes: size, duration: decoded.duration, start, segments: segs, rms };
    },
  };
})();
