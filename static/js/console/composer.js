// The client-event composer's templates and the check of what the user typed: one template per client
// event of the Realtime API (response.create in its per-response forms, the conversation.item.* and
// *_audio_buffer.* events) and free JSON. No DOM here. An event without an `event_id` gets one when it is
// sent, so an `error` answering it links back to it in the log.

import { eventId } from "./commands.js";

/** 100 ms of silence at 24 kHz, PCM16 mono, as base64 (4,800 zero bytes). */
const SILENCE_100MS = "A".repeat(6400);

/** The item the templates name when the conversation has none yet: the server answers with an error. */
export const MISSING_ITEM = "item_not_in_this_conversation";

/** `{name, build({itemId})}`: the template's menu name and the event it starts from. */
export const TEMPLATES = [
  {
    name: "response.create (instructions, tools, metadata)",
    build: () => ({
      type: "response.create",
      response: {
        instructions: "Answer in one short sentence, in French.",
        output_modalities: ["text"],
        tools: [
          {
            type: "function",
            name: "get_weather",
            description: "The weather in a city",
            parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
          },
        ],
        tool_choice: "auto",
        metadata: { source: "composer" },
      },
    }),
  },
  {
    name: "response.create out of band (conversation none, input)",
    build: ({ itemId }) => ({
      type: "response.create",
      response: {
        conversation: "none",
        instructions: "Summarize the item in five words.",
        output_modalities: ["text"],
        metadata: { purpose: "summary" },
        input: itemId
          ? [{ type: "item_reference", id: itemId }]
          : [{ type: "message", role: "user", content: [{ type: "input_text", text: "The sky is blue today." }] }],
      },
    }),
  },
  { name: "response.cancel", build: () => ({ type: "response.cancel" }) },
  {
    name: "conversation.item.create (message)",
    build: () => ({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text: "Hello from the composer." }] },
    }),
  },
  {
    name: "conversation.item.retrieve",
    build: ({ itemId }) => ({ type: "conversation.item.retrieve", item_id: itemId || MISSING_ITEM }),
  },
  {
    name: "conversation.item.truncate",
    build: ({ itemId }) => ({
      type: "conversation.item.truncate",
      item_id: itemId || MISSING_ITEM,
      content_index: 0,
      audio_end_ms: 0,
    }),
  },
  {
    name: "conversation.item.delete",
    build: ({ itemId }) => ({ type: "conversation.item.delete", item_id: itemId || MISSING_ITEM }),
  },
  {
    name: "input_audio_buffer.append (100 ms of silence)",
    build: () => ({ type: "input_audio_buffer.append", audio: SILENCE_100MS }),
  },
  { name: "input_audio_buffer.commit", build: () => ({ type: "input_audio_buffer.commit" }) },
  { name: "input_audio_buffer.clear", build: () => ({ type: "input_audio_buffer.clear" }) },
  { name: "output_audio_buffer.clear", build: () => ({ type: "output_audio_buffer.clear" }) },
  {
    name: "session.update",
    build: () => ({ type: "session.update", session: { type: "realtime", instructions: "Be brief." } }),
  },
  { name: "free JSON", build: () => ({ type: "" }) },
];

/** The template named `name` as the composer's text (pretty JSON). */
export function templateText(name, context = {}) {
  const t = TEMPLATES.find((x) => x.name === name) ?? TEMPLATES[0];
  return JSON.stringify(t.build(context), null, 2);
}

/** The item a server event names (the templates' default item), or undefined. */
export function itemIdOf(event) {
  if (!event || typeof event.type !== "string" || !event.type.startsWith("conversation.item.")) return undefined;
  if (event.type === "conversation.item.deleted") return undefined;
  return typeof event.item?.id === "string" ? event.item.id : undefined;
}

/**
 * What the user typed, as the event to send: `{event}` (with an `event_id`, added when absent or when it
 * repeats the one sent last, so each error links to one event) or `{error}` saying what is wrong.
 */
export function composed(text, { lastEventId = null, newId = eventId } = {}) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { error: `Not JSON: ${e.message}` };
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) return { error: "A client event is a JSON object." };
  if (typeof value.type !== "string" || !value.type.trim()) return { error: 'The event needs a "type".' };
  const id = value.event_id;
  if (id !== undefined && typeof id !== "string") return { error: '"event_id" must be a string.' };
  if (!id || id === lastEventId) return { event: { ...value, event_id: newId() } };
  return { event: value };
}
