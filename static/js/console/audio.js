// The microphone (device choice, mute) and the level meters (Web Audio AnalyserNode).

/** The microphone's track, from `deviceId` when given. Rejects when there is none or it is refused. */
export async function openMic(deviceId) {
  const audio = deviceId ? { deviceId: { exact: deviceId } } : true;
  const stream = await navigator.mediaDevices.getUserMedia({ audio });
  return stream.getAudioTracks()[0];
}

/** The audio inputs, `[{deviceId, label}]` (labels appear once the page may use the microphone). */
export async function listMics() {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  const devices = await navigator.mediaDevices.enumerateDevices();
  return devices
    .filter((d) => d.kind === "audioinput")
    .map((d, i) => ({ deviceId: d.deviceId, label: d.label || `Microphone ${i + 1}` }));
}

/** Loudness of the samples, 0 (silence, −60 dBFS or quieter) … 1 (full scale). */
export function levelOf(samples) {
  let sum = 0;
  for (let i = 0; i < samples.length; i += 1) sum += samples[i] * samples[i];
  const rms = Math.sqrt(sum / Math.max(1, samples.length));
  if (rms <= 0) return 0;
  const db = 20 * Math.log10(rms);
  return Math.min(1, Math.max(0, (db + 60) / 60));
}

let sharedContext = null;

/** The page's one AudioContext (created on first use, which is a click). */
export function audioContext() {
  if (!sharedContext) sharedContext = new AudioContext();
  if (sharedContext.state === "suspended") sharedContext.resume().catch(() => {});
  return sharedContext;
}

/** A meter on `stream`: `level()` reads the current loudness (0…1); `stop()` disconnects it. */
export function createMeter(stream) {
  const ctx = audioContext();
  const source = ctx.createMediaStreamSource(stream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  return {
    level() {
      analyser.getFloatTimeDomainData(buf);
      return levelOf(buf);
    },
    stop() {
      source.disconnect();
    },
  };
}
