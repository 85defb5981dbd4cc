// Token usage, estimated cost and per-turn latency from recorded events. No DOM.
import { addEach } from "./fold.js";

/**
 * USD per 1M tokens. These are ESTIMATES copied from OpenAI's public pricing page (gpt-realtime /
 * gpt-realtime-mini, late 2025); prices change — users should check them and edit the table in the console.
 */
export const DEFAULT_PRICES = Object.freeze({
  "gpt-realtime": Object.freeze({
    textIn: 4,
    textCachedIn: 0.4,
    textOut: 16,
    audioIn: 32,
    audioCachedIn: 0.4,
    audioOut: 64,
    imageIn: 5,
    imageCachedIn: 0.5,
  }),
  "gpt-realtime-mini": Object.freeze({
    textIn: 0.6,
    textCachedIn: 0.06,
    textOut: 2.4,
    audioIn: 10,
    audioCachedIn: 0.3,
    audioOut: 20,
    imageIn: 0.8,
    imageCachedIn: 0.08,
  }),
});

export const PRICE_FIELDS = [
  "textIn",
  "textCachedIn",
  "textOut",
  "audioIn",
  "audioCachedIn",
  "audioOut",
  "imageIn",
  "imageCachedIn",
];

const FALLBACK_MODEL = "gpt-realtime";
const n = (v) => (Number.isFinite(v) ? v : 0);

/** A `response.usage` object flattened; absent fields count as zero. */
export function normalizeUsage(u) {
  const inD = u?.input_token_details ?? {};
  const outD = u?.output_token_details ?? {};
  const inputText = n(inD.text_tokens);
  const inputAudio = n(inD.audio_tokens);
  const inputImage = n(inD.image_tokens);
  const cached = n(inD.cached_tokens);
  let cachedText, cachedAudio, cachedImage;
  if (inD.cached_tokens_details) {
    cachedText = n(inD.cached_tokens_details.text_tokens);
    cachedAudio = n(inD.cached_tokens_details.audio_tokens);
    cachedImage = n(inD.cached_tokens_details.image_tokens);
  } else {
    // No breakdown: assume the cached prefix is text first, then audio (instructions and tools come first).
    cachedText = Math.min(cached, inputText);
    cachedAudio = Math.min(cached - cachedText, inputAudio);
    cachedImage = 0;
  }
  const input = n(u?.input_tokens) || inputText + inputAudio + inputImage;
  const outputText = n(outD.text_tokens);
  const outputAudio = n(outD.audio_tokens);
  const output = n(u?.output_tokens) || outputText + outputAudio;
  return {
    input,
    output,
    total: n(u?.total_tokens) || input + output,
    cached,
    inputText,
    inputAudio,
    inputImage,
    cachedText,
    cachedAudio,
    cachedImage,
    outputText,
    outputAudio,
  };
}

export function emptyUsage() {
  return normalizeUsage(null);
}

export function addUsage(a, b) {
  const out = {};
  for (const k of Object.keys(a)) out[k] = a[k] + n(b[k]);
  return out;
}

/** USD for one usage at one price. Cached tokens are part of the input counts, so they are taken out. */
export function costOf(usage, price) {
  const p = price ?? DEFAULT_PRICES[FALLBACK_MODEL];
  const per = (tokens, usdPerM) => (Math.max(0, tokens) * n(usdPerM)) / 1e6;
  const c = {
    inputText: per(usage.inputText - usage.cachedText, p.textIn),
    cachedText: per(usage.cachedText, p.textCachedIn),
    inputAudio: per(usage.inputAudio - usage.cachedAudio, p.audioIn),
    cachedAudio: per(usage.cachedAudio, p.audioCachedIn),
    inputImage: per(usage.inputImage - usage.cachedImage, p.imageIn),
    cachedImage: per(usage.cachedImage, p.imageCachedIn),
    outputText: per(usage.outputText, p.textOut),
    outputAudio: per(usage.outputAudio, p.audioOut),
  };
  c.total = Object.values(c).reduce((s, v) => s + v, 0);
  return c;
}

export function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function summary(values) {
  const v = values.filter(Number.isFinite);
  return { median: median(v), mean: v.length ? v.reduce((s, x) => s + x, 0) / v.length : null, n: v.length };
}

// Picks the price row for a model name, tolerating dated snapshots ("gpt-realtime-2025-08-28").
export function priceFor(prices, model) {
  if (model && prices[model]) return prices[model];
  if (model) {
    const base = Object.keys(prices)
      .filter((k) => model.startsWith(k))
      .sort((a, b) => b.length - a.length)[0];
    if (base) return prices[base];
  }
  return prices[FALLBACK_MODEL] ?? DEFAULT_PRICES[FALLBACK_MODEL];
}

/** Creates empty metrics. `model` is a default until session.created/updated says otherwise. */
export function createMetrics({ prices = DEFAULT_PRICES, model } = {}) {
  let table = prices;
  let sessionModel;
  let responses = [];
  let byId = new Map();
  let creates = []; // client response.create not yet answered: [{seq, ts, eventId}]
  let speech = null; // last speech_stopped not yet answered
  let transcription = { tokens: 0, seconds: 0 };
  let version = 0;

  const modelName = () => sessionModel ?? model ?? FALLBACK_MODEL;

  function responseFor(id, entry) {
    let r = byId.get(id);
    if (!r) {
      r = {
        responseId: id,
        seq: entry.seq,
        ts: entry.ts,
        status: "in_progress",
        reason: undefined,
        usage: null,
        cost: null,
        trigger: null,
        latency: { created: null, firstDelta: null, audioStart: null, done: null },
      };
      byId.set(id, r);
      responses.push(r);
    }
    return r;
  }

  const since = (r, ts) => (r.trigger && Number.isFinite(ts) ? ts - r.trigger.ts : null);

  function onServer(e, entry) {
    switch (e.type) {
      case "session.created":
      case "session.updated":
        if (typeof e.session?.model === "string" && e.session.model !== sessionModel) {
          sessionModel = e.session.model;
          reprice();
          return true;
        }
        return false;
      case "input_audio_buffer.speech_stopped":
        speech = { kind: "speech_stopped", seq: entry.seq, ts: entry.ts };
        return false;
      case "response.created": {
        const id = e.response?.id;
        if (typeof id !== "string") return false;
        const r = responseFor(id, entry);
        // The server answers response.create in order; a voice turn has no client create.
        const t = creates.shift() ?? speech;
        if (t === speech) speech = null;
        if (t && !r.trigger) {
          r.trigger = { kind: t.kind, seq: t.seq, ts: t.ts };
          r.latency.created = since(r, entry.ts);
        }
        return true;
      }
      case "error": {
        // A refused response.create (e.g. conversation_already_has_active_response) will get no response.
        const cause = e.error?.event_id;
        const i = creates.findIndex((c) => c.eventId && c.eventId === cause);
        if (i >= 0) creates.splice(i, 1);
        return false;
      }
      case "output_audio_buffer.started": {
        const r = byId.get(e.response_id);
        if (!r || r.latency.audioStart !== null) return false;
        r.latency.audioStart = since(r, entry.ts);
        return r.latency.audioStart !== null;
      }
      case "response.done": {
        const resp = e.response ?? {};
        if (typeof resp.id !== "string") return false;
        const r = responseFor(resp.id, entry);
        r.status = resp.status ?? r.status;
        r.reason = resp.status_details?.reason;
        r.usage = resp.usage ? normalizeUsage(resp.usage) : null;
        r.cost = r.usage ? costOf(r.usage, priceFor(table, modelName())) : null;
        r.latency.done = since(r, entry.ts);
        return true;
      }
      case "conversation.item.input_audio_transcription.completed": {
        const u = e.usage;
        if (u?.type === "duration") transcription.seconds += n(u.seconds);
        else if (u) transcription.tokens += n(u.total_tokens);
        return !!u;
      }
      default:
        if (e.type.endsWith(".delta") && typeof e.response_id === "string") {
          const r = byId.get(e.response_id);
          if (!r || r.latency.firstDelta !== null) return false;
          r.latency.firstDelta = since(r, entry.ts);
          return r.latency.firstDelta !== null;
        }
        return false;
    }
  }

  function reprice() {
    const price = priceFor(table, modelName());
    for (const r of responses) if (r.usage) r.cost = costOf(r.usage, price);
  }

  function add(entry) {
    const e = entry?.event;
    if (!e || typeof e.type !== "string") return false;
    let changed = false;
    if (entry.direction === "server") changed = onServer(e, entry);
    else if (entry.direction === "client" && e.type === "response.create") {
      creates.push({ kind: "response.create", seq: entry.seq, ts: entry.ts, eventId: e.event_id });
      // A manual create supersedes a speech stop that did not start a response (create_response: false).
      speech = null;
    }
    if (changed) version++;
    return changed;
  }

  return {
    add,
    addMany: addEach(add),
    get responses() {
      return responses;
    },
    get session() {
      let usage = emptyUsage();
      for (const r of responses) if (r.usage) usage = addUsage(usage, r.usage);
      return {
        usage,
        cost: costOf(usage, priceFor(table, modelName())),
        responses: responses.length,
        model: modelName(),
        transcription: { ...transcription },
        latency: {
          firstDelta: summary(responses.map((r) => r.latency.firstDelta)),
          audioStart: summary(responses.map((r) => r.latency.audioStart)),
        },
      };
    },
    get model() {
      return modelName();
    },
    get prices() {
      return table;
    },
    get version() {
      return version;
    },
    setPrices(next) {
      table = next ?? DEFAULT_PRICES;
      reprice();
      version++;
    },
    clear() {
      responses = [];
      byId = new Map();
      creates = [];
      speech = null;
      sessionModel = undefined;
      transcription = { tokens: 0, seconds: 0 };
      version++;
    },
  };
}
