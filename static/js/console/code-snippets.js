// "View code": the session the console has (the server's effective one, or the form's before a call) as
// runnable snippets: openai-python `realtime.connect`, an agents-js `RealtimeSession` and curl for
// `client_secrets`. Each takes the base URL from OPENAI_BASE_URL, defaulting to this console's OpenAI-compatible
// gateway (`<origin>/v1`), which records the session. No DOM here.

import { stripOverrides } from "./seed.js";

/** `session` cut to what a client may send (no id, object, expires_at…), typed `realtime`. */
export function sessionForCode(session) {
  return { type: "realtime", ...stripOverrides(session || {}) };
}

const json = (v, indent = 2) => JSON.stringify(v, null, indent);

/** A Python raw string literal holding `text` (JSON never needs a quote escaped for it). */
function pyJsonLiteral(value) {
  const text = json(value).replace(/'/g, "\\u0027");
  return `json.loads(r'''${text}''')`;
}

export function python(session, { baseUrl }) {
  const s = sessionForCode(session);
  return `# pip install openai   ·   OPENAI_BASE_URL=${baseUrl} python realtime_session.py
import asyncio, json, os

from openai import AsyncOpenAI

SESSION = ${pyJsonLiteral(s)}


async def main():
    client = AsyncOpenAI(
        base_url=os.environ.get("OPENAI_BASE_URL", ${json(baseUrl)}),
        api_key=os.environ.get("OPENAI_API_KEY", "sk-console"),
    )
    async with client.realtime.connect(model=SESSION.get("model", "gpt-realtime")) as conn:
        await conn.session.update(session=SESSION)
        await conn.conversation.item.create(
            item={"type": "message", "role": "user",
                  "content": [{"type": "input_text", "text": "Hello!"}]}
        )
        await conn.response.create()
        session, answer = None, ""
        async for event in conn:
            if event.type == "session.updated":
                session = event.session.model_dump(exclude_none=True)
            elif event.type in ("response.output_text.delta", "response.output_audio_transcript.delta"):
                answer += event.delta
            elif event.type == "error":
                raise SystemExit(event.error.message)
            elif event.type == "response.done":
                break
        print(json.dumps({"answer": answer, "session": session}))


asyncio.run(main())
`;
}

const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

export function agents(session, { baseUrl }) {
  const s = sessionForCode(session);
  const input = s.audio?.input || {};
  const output = s.audio?.output;
  const audio = {};
  if (Object.keys(input).length) {
    audio.input = Object.fromEntries(Object.entries(input).map(([k, v]) => [camel(k), v]));
  }
  if (output) audio.output = output;
  const config = {};
  if (s.output_modalities) config.outputModalities = s.output_modalities;
  if (Object.keys(audio).length) config.audio = audio;
  if (s.tool_choice !== undefined) config.toolChoice = s.tool_choice;
  if (s.tracing !== undefined) config.tracing = s.tracing;
  if (s.prompt) config.prompt = s.prompt;
  const extra = {};
  for (const k of ["max_output_tokens", "truncation", "include"]) if (s[k] !== undefined) extra[k] = s[k];
  if (Object.keys(extra).length) config.providerData = extra;
  const tools = (s.tools || []).map((t) => t.name).filter(Boolean);
  const toolNote = tools.length
    ? `\n  // The session's tools (${tools.join(", ")}): define each with tool({ name, parameters, execute }).\n  tools: [],`
    : "";
  return `// npm install @openai/agents   ·   an ek_ key from the console's /api/rt/token (or your server)
import { RealtimeAgent, RealtimeSession } from "@openai/agents/realtime";

const agent = new RealtimeAgent({
  name: "Assistant",
  instructions: ${json(s.instructions ?? "")},${toolNote}
});

const session = new RealtimeSession(agent, {
  model: ${json(s.model ?? "gpt-realtime")},
  config: ${json(config).replace(/\n/g, "\n  ")},
});

// In a browser: WebRTC with the microphone and speaker. ${baseUrl} is this console's gateway.
await session.connect({ apiKey: EPHEMERAL_KEY, url: ${json(`${baseUrl}/realtime/calls`)} });
`;
}

/** `text` inside single quotes for a POSIX shell. */
const shellQuote = (text) => `'${text.replace(/'/g, `'\\''`)}'`;

export function curl(session, { baseUrl }) {
  const body = json({ session: sessionForCode(session) });
  return `# An ephemeral key (ek_…) for this session; the console's gateway records the call made with it.
curl -sS -X POST "\${OPENAI_BASE_URL:-${baseUrl}}/realtime/client_secrets" \\
  -H "Authorization: Bearer \${OPENAI_API_KEY:-sk-console}" \\
  -H "Content-Type: application/json" \\
  -d ${shellQuote(body)}
`;
}

/** The three snippets for `session`, each `{id, label, text}`. */
export function snippets(session, { baseUrl }) {
  return [
    { id: "python", label: "openai-python", text: python(session, { baseUrl }) },
    { id: "agents", label: "agents-js", text: agents(session, { baseUrl }) },
    { id: "curl", label: "curl", text: curl(session, { baseUrl }) },
  ];
}
