// Recorded-entry fixtures for the tests (and the headless-browser check): a realistic session following
// PROTOCOL.md §9 (text turn, function-call turn, voice turn, an error), and a bulk generator.

/** Builds entries with consecutive seqs and ts 10 ms apart unless an explicit `dt` is given. */
export function builder(t0 = 1_764_000_000_000, firstSeq = 2) {
  const entries = [];
  let seq = firstSeq;
  let ts = t0;
  const push = (direction, event, dt = 10) => {
    ts += dt;
    const entry = { seq: seq++, ts, direction, event };
    entries.push(entry);
    return entry;
  };
  return {
    entries,
    client: (event, dt) => push("client", event, dt),
    server: (event, dt) => push("server", event, dt),
    system: (event, dt) => push("system", event, dt),
  };
}

const usage = (inText, inAudio, cachedText, outText, outAudio) => ({
  total_tokens: inText + inAudio + outText + outAudio,
  input_tokens: inText + inAudio,
  output_tokens: outText + outAudio,
  input_token_details: {
    text_tokens: inText,
    audio_tokens: inAudio,
    image_tokens: 0,
    cached_tokens: cachedText,
    cached_tokens_details: { text_tokens: cachedText, audio_tokens: 0, image_tokens: 0 },
  },
  output_token_details: { text_tokens: outText, audio_tokens: outAudio },
});

/** A session: text turn with audio answer, function call + output + follow-up, voice turn, an error. */
export function sessionEntries() {
  const b = builder();
  b.server({ type: "session.created", event_id: "event_1", session: { type: "realtime", model: "gpt-realtime" } });
  // 1. Text in → audio + transcript out (§9.1)
  b.client({
    type: "conversation.item.create",
    event_id: "c1",
    item: { type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] },
  });
  b.client({ type: "response.create", event_id: "c2" }, 5); // t0+25
  const userItem = {
    id: "item_U",
    type: "message",
    status: "completed",
    role: "user",
    content: [{ type: "input_text", text: "hi" }],
  };
  b.server({
    type: "conversation.item.added",
    event_id: "e3",
    previous_item_id: null,
    item: userItem,
  });
  b.server({
    type: "conversation.item.done",
    event_id: "e4",
    previous_item_id: null,
    item: userItem,
  });
  b.server(
    {
      type: "response.created",
      event_id: "e5",
      response: { id: "resp_1", status: "in_progress", output: [], usage: null },
    },
    100,
  );
  b.server({
    type: "response.output_item.added",
    event_id: "e6",
    response_id: "resp_1",
    output_index: 0,
    item: { id: "item_A", type: "message", status: "in_progress", role: "assistant", content: [] },
  });
  b.server({
    type: "conversation.item.added",
    event_id: "e7",
    previous_item_id: "item_U",
    item: { id: "item_A", type: "message", status: "in_progress", role: "assistant", content: [] },
  });
  b.server({
    type: "response.content_part.added",
    event_id: "e8",
    response_id: "resp_1",
    item_id: "item_A",
    output_index: 0,
    content_index: 0,
    part: { type: "audio", transcript: "" },
  });
  const d = (delta, dt) =>
    b.server(
      {
        type: "response.output_audio_transcript.delta",
        event_id: "d" + delta,
        response_id: "resp_1",
        item_id: "item_A",
        output_index: 0,
        content_index: 0,
        delta,
        obfuscation: "x",
      },
      dt,
    );
  d("Hello", 200); // first delta: 350 ms after response.create
  b.server({ type: "output_audio_buffer.started", event_id: "e9", response_id: "resp_1" }, 50);
  d("! How", 10);
  d(" can I help?", 10);
  b.server({
    type: "response.output_audio.done",
    event_id: "e10",
    response_id: "resp_1",
    item_id: "item_A",
    output_index: 0,
    content_index: 0,
  });
  b.server({
    type: "response.output_audio_transcript.done",
    event_id: "e11",
    response_id: "resp_1",
    item_id: "item_A",
    output_index: 0,
    content_index: 0,
    transcript: "Hello! How can I help?",
  });
  const itemA = {
    id: "item_A",
    type: "message",
    status: "completed",
    role: "assistant",
    content: [{ type: "output_audio", transcript: "Hello! How can I help?" }],
  };
  b.server({ type: "response.output_item.done", event_id: "e12", response_id: "resp_1", output_index: 0, item: itemA });
  b.server({ type: "conversation.item.done", event_id: "e13", previous_item_id: "item_U", item: itemA });
  b.server({
    type: "response.done",
    event_id: "e14",
    response: { id: "resp_1", status: "completed", output: [itemA], usage: usage(119, 13, 64, 30, 91) },
  });
  b.server({ type: "output_audio_buffer.stopped", event_id: "e15", response_id: "resp_1" });

  // 2. Function call and follow-up (§9.2)
  b.client(
    {
      type: "conversation.item.create",
      event_id: "c3",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: "Weather in Paris?" }] },
    },
    1000,
  );
  b.client({ type: "response.create", event_id: "c4" });
  b.server({
    type: "conversation.item.added",
    event_id: "e16",
    previous_item_id: "item_A",
    item: {
      id: "item_U2",
      type: "message",
      status: "completed",
      role: "user",
      content: [{ type: "input_text", text: "Weather in Paris?" }],
    },
  });
  b.server({
    type: "response.created",
    event_id: "e17",
    response: { id: "resp_2", status: "in_progress", output: [] },
  });
  const call = { id: "item_F", type: "function_call", name: "get_weather", call_id: "call_1" };
  b.server({
    type: "response.output_item.added",
    event_id: "e18",
    response_id: "resp_2",
    output_index: 0,
    item: { ...call, status: "in_progress", arguments: "" },
  });
  for (const delta of ['{"location":', '"Paris"}']) {
    b.server({
      type: "response.function_call_arguments.delta",
      event_id: "f" + delta.length,
      response_id: "resp_2",
      item_id: "item_F",
      output_index: 0,
      call_id: "call_1",
      delta,
    });
  }
  b.server({
    type: "response.function_call_arguments.done",
    event_id: "e19",
    response_id: "resp_2",
    item_id: "item_F",
    output_index: 0,
    call_id: "call_1",
    name: "get_weather",
    arguments: '{"location":"Paris"}',
  });
  const callDone = { ...call, status: "completed", arguments: '{"location":"Paris"}' };
  b.server({
    type: "response.output_item.done",
    event_id: "e20",
    response_id: "resp_2",
    output_index: 0,
    item: callDone,
  });
  b.server({
    type: "response.done",
    event_id: "e21",
    response: { id: "resp_2", status: "completed", output: [callDone], usage: usage(200, 0, 0, 20, 0) },
  });
  b.client({
    type: "conversation.item.create",
    event_id: "c5",
    item: { type: "function_call_output", call_id: "call_1", output: '{"temp_c":21}' },
  });
  b.server({
    type: "conversation.item.added",
    event_id: "e22",
    previous_item_id: "item_F",
    item: { id: "item_O", type: "function_call_output", call_id: "call_1", output: '{"temp_c":21}' },
  });
  b.client({ type: "response.create", event_id: "c6" });
  b.server({
    type: "response.created",
    event_id: "e23",
    response: { id: "resp_3", status: "in_progress", output: [] },
  });
  b.server({
    type: "response.output_item.added",
    event_id: "e24",
    response_id: "resp_3",
    output_index: 0,
    item: { id: "item_B", type: "message", status: "in_progress", role: "assistant", content: [] },
  });
  b.server({
    type: "response.output_text.delta",
    event_id: "e25",
    response_id: "resp_3",
    item_id: "item_B",
    output_index: 0,
    content_index: 0,
    delta: "It is 21°C",
  });
  b.server({
    type: "response.output_text.delta",
    event_id: "e26",
    response_id: "resp_3",
    item_id: "item_B",
    output_index: 0,
    content_index: 0,
    delta: " in Paris.",
  });
  b.server({
    type: "response.output_text.done",
    event_id: "e27",
    response_id: "resp_3",
    item_id: "item_B",
    output_index: 0,
    content_index: 0,
    text: "It is 21°C in Paris.",
  });
  b.server({
    type: "response.done",
    event_id: "e28",
    response: { id: "resp_3", status: "completed", output: [], usage: usage(300, 0, 256, 12, 0) },
  });

  // 3. Voice turn (server VAD), transcript arriving after the response started
  b.server(
    { type: "input_audio_buffer.speech_started", event_id: "e29", audio_start_ms: 1000, item_id: "item_V" },
    2000,
  );
  b.server({ type: "input_audio_buffer.speech_stopped", event_id: "e30", audio_end_ms: 2500, item_id: "item_V" }, 1500);
  b.server({ type: "input_audio_buffer.committed", event_id: "e31", item_id: "item_V", previous_item_id: "item_B" });
  b.server({
    type: "conversation.item.added",
    event_id: "e32",
    previous_item_id: "item_B",
    item: {
      id: "item_V",
      type: "message",
      status: "completed",
      role: "user",
      content: [{ type: "input_audio", transcript: null }],
    },
  });
  b.server(
    { type: "response.created", event_id: "e33", response: { id: "resp_4", status: "in_progress", output: [] } },
    20,
  );
  b.server({
    type: "conversation.item.input_audio_transcription.delta",
    event_id: "e34",
    item_id: "item_V",
    content_index: 0,
    delta: "Thanks",
  });
  b.server({
    type: "response.output_item.added",
    event_id: "e35",
    response_id: "resp_4",
    output_index: 0,
    item: { id: "item_C", type: "message", status: "in_progress", role: "assistant", content: [] },
  });
  b.server(
    {
      type: "response.output_audio_transcript.delta",
      event_id: "e36",
      response_id: "resp_4",
      item_id: "item_C",
      output_index: 0,
      content_index: 0,
      delta: "You're welcome",
    },
    300,
  );
  b.server({
    type: "conversation.item.input_audio_transcription.completed",
    event_id: "e37",
    item_id: "item_V",
    content_index: 0,
    transcript: "Thanks a lot.",
    usage: { type: "tokens", total_tokens: 20, input_tokens: 15, output_tokens: 5 },
  });
  b.server({ type: "output_audio_buffer.started", event_id: "e38", response_id: "resp_4" }, 40);
  // barge-in: the user speaks again, the response is cancelled
  b.server({ type: "input_audio_buffer.speech_started", event_id: "e39", audio_start_ms: 4000, item_id: "item_W" });
  b.server({ type: "output_audio_buffer.cleared", event_id: "e40", response_id: "resp_4" });
  b.server({
    type: "response.done",
    event_id: "e41",
    response: {
      id: "resp_4",
      status: "cancelled",
      status_details: { type: "cancelled", reason: "turn_detected" },
      output: [],
      usage: usage(0, 0, 0, 0, 0),
    },
  });

  // 4. An error caused by a client event
  b.client({ type: "response.cancel", event_id: "c7" });
  b.server({
    type: "error",
    event_id: "e42",
    error: {
      type: "invalid_request_error",
      code: "response_cancel_not_active",
      message: "Cancellation failed: no active response found",
      param: null,
      event_id: "c7",
    },
  });
  return b.entries;
}

/** `n` entries cycling through a realistic mix (deltas fold, errors, ids), deterministic. */
export function synthetic(n, t0 = 1_764_000_000_000) {
  const b = builder(t0, 2);
  let i = 0;
  while (b.entries.length < n) {
    const r = `resp_${i}`,
      item = `item_${i}`;
    b.client({
      type: "conversation.item.create",
      event_id: `c_${i}`,
      item: {
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: `question number ${i} about Paris` }],
      },
    });
    b.client({ type: "response.create", event_id: `cr_${i}` });
    b.server({
      type: "response.created",
      event_id: `e_${i}_0`,
      response: { id: r, status: "in_progress", output: [] },
    });
    for (let k = 0; k < 12 && b.entries.length < n; k++) {
      b.server({
        type: "response.output_audio_transcript.delta",
        event_id: `e_${i}_d${k}`,
        response_id: r,
        item_id: item,
        output_index: 0,
        content_index: 0,
        delta: `word${k} `,
      });
    }
    if (i % 50 === 7) {
      b.server({
        type: "error",
        event_id: `e_${i}_err`,
        error: {
          type: "invalid_request_error",
          code: "conversation_already_has_active_response",
          message: "busy",
          event_id: `cr_${i}`,
        },
      });
    }
    b.server({
      type: "response.done",
      event_id: `e_${i}_9`,
      response: { id: r, status: "completed", output: [], usage: usage(100, 20, 50, 10, 40) },
    });
    i++;
  }
  return b.entries.slice(0, n);
}
