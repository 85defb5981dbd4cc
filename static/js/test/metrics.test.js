import { test } from "node:test";
import assert from "node:assert/strict";
import { createMetrics, costOf, normalizeUsage, median, priceFor, DEFAULT_PRICES } from "../lib/metrics.js";
import { builder, sessionEntries } from "./fixtures.js";

const close = (a, b, msg) => assert.ok(Math.abs(a - b) < 1e-12, `${msg ?? ""} ${a} ≠ ${b}`);

test("usage is flattened from response.done, cached tokens split by modality", () => {
  const u = normalizeUsage({
    total_tokens: 253,
    input_tokens: 132,
    output_tokens: 121,
    input_token_details: {
      text_tokens: 119,
      audio_tokens: 13,
      image_tokens: 0,
      cached_tokens: 64,
      cached_tokens_details: { text_tokens: 60, audio_tokens: 4, image_tokens: 0 },
    },
    output_token_details: { text_tokens: 30, audio_tokens: 91 },
  });
  assert.deepEqual(u, {
    input: 132,
    output: 121,
    total: 253,
    cached: 64,
    inputText: 119,
    inputAudio: 13,
    inputImage: 0,
    cachedText: 60,
    cachedAudio: 4,
    cachedImage: 0,
    outputText: 30,
    outputAudio: 91,
  });
  // Without a breakdown the cached prefix is counted as text first.
  const v = normalizeUsage({
    input_tokens: 20,
    input_token_details: { text_tokens: 10, audio_tokens: 10, cached_tokens: 15 },
  });
  assert.equal(v.cachedText, 10);
  assert.equal(v.cachedAudio, 5);
  assert.equal(v.output, 0);
  assert.equal(normalizeUsage(null).total, 0);
});

test("cost: cached tokens are priced apart from uncached input", () => {
  const price = { textIn: 4, textCachedIn: 0.4, textOut: 16, audioIn: 32, audioCachedIn: 0.4, audioOut: 64 };
  const u = normalizeUsage({
    input_tokens: 1_100_000,
    output_tokens: 300_000,
    input_token_details: {
      text_tokens: 1_000_000,
      audio_tokens: 100_000,
      cached_tokens: 500_000,
      cached_tokens_details: { text_tokens: 500_000, audio_tokens: 0 },
    },
    output_token_details: { text_tokens: 100_000, audio_tokens: 200_000 },
  });
  const c = costOf(u, price);
  close(c.inputText, 2); // 500k uncached × $4/M
  close(c.cachedText, 0.2); // 500k × $0.40/M
  close(c.inputAudio, 3.2);
  close(c.outputText, 1.6);
  close(c.outputAudio, 12.8);
  close(c.total, 2 + 0.2 + 3.2 + 1.6 + 12.8);
});

test("per-response and per-session usage and cost of a session", () => {
  const m = createMetrics();
  m.addMany(sessionEntries());
  assert.deepEqual(
    m.responses.map((r) => [r.responseId, r.status]),
    [
      ["resp_1", "completed"],
      ["resp_2", "completed"],
      ["resp_3", "completed"],
      ["resp_4", "cancelled"],
    ],
  );
  assert.equal(m.responses[3].reason, "turn_detected");
  const s = m.session;
  assert.equal(s.model, "gpt-realtime");
  assert.equal(s.responses, 4);
  assert.equal(s.usage.input, 132 + 200 + 300);
  assert.equal(s.usage.output, 121 + 20 + 12);
  assert.equal(s.usage.cachedText, 64 + 256);
  const sum = m.responses.reduce((a, r) => a + (r.cost?.total ?? 0), 0);
  close(s.cost.total, sum, "session cost is the sum of the responses");
  // resp_1: 55 text in, 64 cached text, 13 audio in, 30 text out, 91 audio out at gpt-realtime prices.
  close(m.responses[0].cost.total, (55 * 4 + 64 * 0.4 + 13 * 32 + 30 * 16 + 91 * 64) / 1e6);
  assert.deepEqual(s.transcription, { tokens: 20, seconds: 0 });
});

test("editing prices and a model from session.updated re-price everything", () => {
  const m = createMetrics();
  m.addMany(sessionEntries());
  const before = m.session.cost.total;
  m.setPrices({ "gpt-realtime": { ...DEFAULT_PRICES["gpt-realtime"], audioOut: 0 } });
  assert.ok(m.session.cost.total < before);
  m.setPrices(DEFAULT_PRICES);
  const b = builder(2e12, 1000);
  m.add(b.server({ type: "session.updated", session: { type: "realtime", model: "gpt-realtime-mini-2025-10-06" } }));
  assert.equal(priceFor(DEFAULT_PRICES, "gpt-realtime-mini-2025-10-06"), DEFAULT_PRICES["gpt-realtime-mini"]);
  assert.ok(m.session.cost.total < before / 3);
  assert.equal(priceFor(DEFAULT_PRICES, "something-else"), DEFAULT_PRICES["gpt-realtime"]);
});

test("latency: from response.create to first delta and to output_audio_buffer.started", () => {
  const m = createMetrics();
  m.addMany(sessionEntries());
  // Timestamps in the fixture (ms after session.created): create 15, created 135, first delta 365, audio 415.
  const [r1, r2, r3, r4] = m.responses;
  assert.equal(r1.trigger.kind, "response.create");
  assert.equal(r1.latency.created, 120);
  assert.equal(r1.latency.firstDelta, 350);
  assert.equal(r1.latency.audioStart, 400);
  assert.equal(r2.latency.firstDelta, 40, "function-call arguments count as the first delta");
  assert.equal(r2.latency.audioStart, null);
  assert.equal(r3.trigger.kind, "response.create");
  assert.equal(r3.latency.firstDelta, 30);
  // Voice turn: from speech_stopped.
  assert.equal(r4.trigger.kind, "speech_stopped");
  assert.equal(r4.latency.created, 40);
  assert.equal(r4.latency.firstDelta, 360);
  assert.equal(r4.latency.audioStart, 410);
  assert.deepEqual(m.session.latency.audioStart, { median: 405, mean: 405, n: 2 });
});

test("a refused response.create does not steal the next response's trigger", () => {
  const b = builder();
  const m = createMetrics();
  m.add(b.client({ type: "response.create", event_id: "x1" }));
  m.add(b.server({ type: "error", error: { code: "conversation_already_has_active_response", event_id: "x1" } }));
  m.add(b.server({ type: "input_audio_buffer.speech_stopped", item_id: "v" }, 1000));
  m.add(b.server({ type: "response.created", response: { id: "r" } }, 100));
  assert.equal(m.responses[0].trigger.kind, "speech_stopped");
  assert.equal(m.responses[0].latency.created, 100);
});

test("a response without a seen trigger has no latency; median helper", () => {
  const b = builder();
  const m = createMetrics();
  m.add(b.server({ type: "response.created", response: { id: "r" } }));
  m.add(b.server({ type: "response.output_text.delta", response_id: "r", item_id: "i", delta: "x" }));
  assert.equal(m.responses[0].latency.firstDelta, null);
  assert.equal(m.session.latency.firstDelta.median, null);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  m.clear();
  assert.equal(m.responses.length, 0);
});
