// "View code" (console/code-snippets.js): snippets generated from the session. `node --test static/js/test/`.

import assert from "node:assert/strict";
import { test } from "node:test";

import { readFileSync } from "node:fs";

import { agents, curl, python, sessionForCode, snippets } from "../console/code-snippets.js";
import { useAllowedOverrides } from "../console/seed.js";

// The allow-list the server renders into the console page (rt_overrides.rs checks that it is this file).
useAllowedOverrides(JSON.parse(readFileSync(new URL("./allowed-overrides.json", import.meta.url), "utf8")));

const SERVER = {
  type: "realtime",
  object: "realtime.session",
  id: "sess_1",
  expires_at: 0,
  model: "gpt-realtime",
  instructions: "Say 'hi' and \\ nothing else.",
  output_modalities: ["text"],
  include: null,
  tracing: "auto",
  audio: {
    input: { turn_detection: { type: "server_vad", idle_timeout_ms: null }, noise_reduction: null },
    output: { voice: "cedar", speed: 1.25 },
  },
  tools: [{ type: "function", name: "get_time", parameters: { type: "object" } }],
  max_output_tokens: 200,
};
const BASE = "http://127.0.0.1:3000/v1";

test("the session in code is what a client may send", () => {
  const s = sessionForCode(SERVER);
  for (const k of ["object", "id", "expires_at", "include"]) assert.equal(k in s, false, k);
  assert.equal(s.audio.output.speed, 1.25);
  assert.equal(s.type, "realtime");
});

test("the Python snippet holds the session as JSON it can load", () => {
  const py = python(SERVER, { baseUrl: BASE });
  const literal = py.match(/json\.loads\(r'''([\s\S]*?)'''\)/)[1];
  assert.deepEqual(JSON.parse(literal), sessionForCode(SERVER), "the quote in the instructions is escaped");
  assert.ok(py.includes('os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:3000/v1")'));
  assert.ok(py.includes("client.realtime.connect"));
});

test("agents-js takes the config in its own names and curl the session as its body", () => {
  const js = agents(SERVER, { baseUrl: BASE });
  assert.ok(js.includes('"outputModalities"'));
  assert.ok(js.includes('"turnDetection"'));
  assert.ok(js.includes('"max_output_tokens": 200'), "providerData carries what the SDK has no name for");
  assert.ok(js.includes("get_time"));
  const sh = curl(SERVER, { baseUrl: BASE });
  const body = sh.match(/-d '([\s\S]*)'\n$/)[1].replace(/'\\''/g, "'");
  assert.deepEqual(JSON.parse(body), { session: sessionForCode(SERVER) });
  assert.deepEqual(
    snippets(SERVER, { baseUrl: BASE }).map((s) => s.id),
    ["python", "agents", "curl"],
  );
});
