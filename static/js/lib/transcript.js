// Conversation turns (user, assistant, tool calls) assembled from recorded events, in conversation order.
// No DOM: the transcript view renders it and the tests drive it directly.
import { addEach } from "./fold.js";

const FINAL = new Set(["completed", "incomplete", "cancelled", "failed"]);
const TEXT_PARTS = new Set(["input_text", "output_text", "text"]);

/** Creates an empty transcript. */
export function createTranscript() {
  let turns = [];
  let byItem = new Map(); // item id → turn
  let byCall = new Map(); // call_id → function-call turn
  let pendingOutputs = new Map(); // call_id → {output, seq} that arrived before its call
  let provisional = []; // message turns the client created without an item id, awaiting the server's id
  let byEventId = new Map(); // client event_id of a conversation.item.create → its turn (for refusals)
  let speaking = new Set(); // item ids announced by speech_started and not committed yet
  let version = 0;
  let changed = false;

  function touch(turn) {
    turn.rev++;
    changed = true;
  }

  function makeTurn(fields, entry) {
    return {
      key: fields.itemId ?? `local:${entry.seq}`,
      itemId: undefined,
      role: "assistant",
      kind: "message",
      source: "text",
      text: "",
      parts: [], // per content_index text, joined into `text`
      images: 0, // the message's input_image parts
      status: "in_progress",
      responseId: undefined,
      seq: entry.seq,
      ts: entry.ts,
      truncated: false,
      audioEndMs: undefined,
      transcriptionError: undefined,
      error: undefined, // the server's error when it refused the client's conversation.item.create
      name: undefined,
      callId: undefined,
      arguments: undefined,
      output: undefined,
      outputSeq: undefined,
      rev: 0,
      _final: false, // user transcript completed: later deltas are stale
      ...fields,
    };
  }

  // Places a new turn: right after the item the server says precedes it, else at the end.
  function place(turn, previousItemId) {
    if (previousItemId === undefined) {
      turns.push(turn);
      return;
    }
    if (previousItemId === null || previousItemId === "root") {
      // null is also what the very first item says; keep arrival order when nothing precedes anyway.
      turns.unshift(turn);
      return;
    }
    const prev = byItem.get(previousItemId);
    const at = prev ? turns.indexOf(prev) : -1;
    if (at < 0) turns.push(turn);
    else turns.splice(at + 1, 0, turn);
  }

  function setParts(turn, content) {
    if (!Array.isArray(content)) return;
    const images = content.filter((c) => c && c.type === "input_image").length;
    if (images) turn.images = images;
    let any = false;
    content.forEach((c, i) => {
      if (!c || typeof c !== "object") return;
      let text;
      if (c.type === "input_text" || c.type === "output_text" || c.type === "text") text = c.text;
      else if (c.type === "input_audio" || c.type === "output_audio" || c.type === "audio") {
        text = c.transcript;
        turn.source = "audio";
      }
      if (typeof text === "string") {
        turn.parts[i] = text;
        any = true;
      }
    });
    // A snapshot without text (transcript still null/"") must not wipe text streamed or transcribed earlier.
    const joined = joinParts(turn.parts);
    if (any && (joined !== "" || turn.text === "")) turn.text = joined;
  }

  function attachOutput(callId, output, seq) {
    const call = byCall.get(callId);
    if (!call) {
      pendingOutputs.set(callId, { output, seq });
      return;
    }
    if (call.output === output && call.outputSeq !== undefined) return;
    call.output = output;
    call.outputSeq ??= seq;
    touch(call);
  }

  // Applies what an item says (from item.create, item.added/done/created, output_item.added/done).
  function applyItem(item, entry, { previousItemId, responseId, fromClient } = {}) {
    if (!item || typeof item !== "object") return;
    if (typeof item.id === "string") speaking.delete(item.id);
    if (item.type === "function_call_output") {
      if (typeof item.call_id === "string") attachOutput(item.call_id, item.output ?? "", entry.seq);
      if (typeof item.id === "string" && byCall.has(item.call_id)) byItem.set(item.id, byCall.get(item.call_id));
      return;
    }
    if (item.type !== "message" && item.type !== "function_call") return;
    const id = typeof item.id === "string" ? item.id : undefined;
    let turn = id ? byItem.get(id) : undefined;
    if (!turn && item.type === "function_call" && typeof item.call_id === "string") turn = byCall.get(item.call_id);
    if (!turn && !fromClient && item.type === "message") turn = adoptProvisional(item, id);
    if (!turn) {
      const fields =
        item.type === "function_call"
          ? { itemId: id, role: "tool", kind: "function_call", source: "text" }
          : { itemId: id, role: item.role ?? "assistant", source: "text" };
      turn = makeTurn(fields, entry);
      if (id) byItem.set(id, turn);
      else if (fromClient && item.type === "message") provisional.push(turn);
      place(turn, previousItemId);
    }
    if (responseId && !turn.responseId) turn.responseId = responseId;
    if (item.type === "function_call") {
      if (typeof item.name === "string") turn.name = item.name;
      if (typeof item.call_id === "string" && !turn.callId) {
        turn.callId = item.call_id;
        byCall.set(item.call_id, turn);
        const early = pendingOutputs.get(item.call_id);
        if (early) {
          pendingOutputs.delete(item.call_id);
          turn.output = early.output;
          turn.outputSeq = early.seq;
        }
      }
      if (typeof item.arguments === "string" && item.arguments !== "") turn.arguments = item.arguments;
    } else {
      setParts(turn, item.content);
    }
    // A client-created item has no server status yet; server items report theirs.
    if (typeof item.status === "string" && !fromClient && !(FINAL.has(turn.status) && item.status === "in_progress")) {
      turn.status = item.status;
    } else if (fromClient) {
      turn.status = "completed";
    }
    touch(turn);
    return turn;
  }

  // The server names a message the client created without an id (a typed turn; an assistant message that
  // "Open in console" seeds): match it by its role and text. An assistant's own answer starts empty, and
  // must not take the place of a seeded one.
  function adoptProvisional(item, id) {
    const role = item.role ?? "assistant";
    const text = joinParts(
      (Array.isArray(item.content) ? item.content : []).map((c) => (TEXT_PARTS.has(c?.type) ? c.text : "")),
    );
    if (text === "" && role !== "user") return undefined;
    const i = provisional.findIndex((t) => t.role === role && t.text === text);
    if (i < 0) return undefined;
    const [turn] = provisional.splice(i, 1);
    if (id) {
      turn.itemId = id;
      byItem.set(id, turn);
    }
    return turn;
  }

  function turnForItem(itemId, entry, fields) {
    let turn = byItem.get(itemId);
    if (!turn) {
      turn = makeTurn({ itemId, ...fields }, entry);
      byItem.set(itemId, turn);
      place(turn, undefined);
    }
    return turn;
  }

  function addText(e, entry, final) {
    if (typeof e.item_id !== "string") return;
    const audio = e.type.startsWith("response.output_audio_transcript");
    const turn = turnForItem(e.item_id, entry, { role: "assistant", responseId: e.response_id });
    if (audio) turn.source = "audio";
    const i = Number.isInteger(e.content_index) ? e.content_index : 0;
    if (final) {
      const text = audio ? e.transcript : e.text;
      if (typeof text === "string") turn.parts[i] = text;
    } else if (typeof e.delta === "string") {
      turn.parts[i] = (turn.parts[i] ?? "") + e.delta;
    }
    turn.text = joinParts(turn.parts);
    touch(turn);
  }

  function onServer(e, entry) {
    switch (e.type) {
      case "conversation.item.added":
      case "conversation.item.done":
      case "conversation.item.created":
      case "conversation.item.retrieved":
        applyItem(e.item, entry, { previousItemId: e.previous_item_id });
        return;
      case "response.output_item.added":
      case "response.output_item.done":
        applyItem(e.item, entry, { responseId: e.response_id });
        return;
      case "response.output_text.delta":
      case "response.output_audio_transcript.delta":
        addText(e, entry, false);
        return;
      case "response.output_text.done":
      case "response.output_audio_transcript.done":
        addText(e, entry, true);
        return;
      case "response.function_call_arguments.delta":
      case "response.function_call_arguments.done": {
        let turn = byCall.get(e.call_id) ?? byItem.get(e.item_id);
        if (!turn) {
          // output_item.added was not seen (recording started late): build the call from the deltas.
          applyItem({ type: "function_call", id: e.item_id, call_id: e.call_id, name: e.name }, entry, {
            responseId: e.response_id,
          });
          turn = byCall.get(e.call_id) ?? byItem.get(e.item_id);
          if (!turn) return;
        }
        if (e.type.endsWith(".delta")) turn.arguments = (turn.arguments ?? "") + (e.delta ?? "");
        else if (typeof e.arguments === "string") turn.arguments = e.arguments;
        if (typeof e.name === "string") turn.name = e.name;
        touch(turn);
        return;
      }
      case "input_audio_buffer.speech_started":
        // The user is speaking: show the turn now, under the id the item will get.
        if (typeof e.item_id === "string" && !byItem.has(e.item_id)) {
          turnForItem(e.item_id, entry, { role: "user", source: "audio" });
          speaking.add(e.item_id);
          changed = true;
        }
        return;
      case "input_audio_buffer.committed":
        speaking.delete(e.item_id);
        return;
      case "input_audio_buffer.cleared":
        // The speech never became an item (buffer cleared before a commit): drop the "speaking…" turns.
        for (const id of speaking) {
          const turn = byItem.get(id);
          byItem.delete(id);
          turns = turns.filter((t) => t !== turn);
          changed = true;
        }
        speaking.clear();
        return;
      case "conversation.item.input_audio_transcription.delta": {
        const turn = turnForItem(e.item_id, entry, { role: "user", source: "audio" });
        if (!turn._final) turn.text += e.delta ?? "";
        touch(turn);
        return;
      }
      case "conversation.item.input_audio_transcription.completed": {
        const turn = turnForItem(e.item_id, entry, { role: "user", source: "audio" });
        turn.text = e.transcript ?? turn.text;
        turn._final = true;
        touch(turn);
        return;
      }
      case "conversation.item.input_audio_transcription.failed": {
        const turn = turnForItem(e.item_id, entry, { role: "user", source: "audio" });
        turn.transcriptionError = e.error ?? { message: "transcription failed" };
        touch(turn);
        return;
      }
      case "conversation.item.truncated": {
        const turn = byItem.get(e.item_id);
        if (!turn) return;
        turn.truncated = true;
        turn.audioEndMs = e.audio_end_ms;
        touch(turn);
        return;
      }
      case "conversation.item.deleted": {
        const turn = byItem.get(e.item_id);
        if (!turn) return;
        turns = turns.filter((t) => t !== turn);
        changed = true;
        return;
      }
      case "response.done":
        finishResponse(e.response);
        return;
      case "error": {
        // The server refused a conversation.item.create: the turn the client added never happened.
        const turn = byEventId.get(e.error?.event_id);
        if (!turn) return;
        turn.status = "failed";
        turn.error = e.error;
        if (provisional.includes(turn)) provisional.splice(provisional.indexOf(turn), 1);
        touch(turn);
        return;
      }
      default:
    }
  }

  // A cancelled response leaves its items in progress, and output_item.done may not have been recorded:
  // the response's final status is the truth for whatever of it is still open.
  function finishResponse(response) {
    if (!response || typeof response.id !== "string") return;
    const status = response.status;
    for (const item of Array.isArray(response.output) ? response.output : []) {
      const turn = (typeof item?.id === "string" && byItem.get(item.id)) || byCall.get(item?.call_id);
      if (!turn) continue;
      if (item.type === "message") setParts(turn, item.content);
      if (item.type === "function_call" && typeof item.arguments === "string") turn.arguments = item.arguments;
      if (typeof item.status === "string" && item.status !== "in_progress") turn.status = item.status;
      touch(turn);
    }
    if (FINAL.has(status)) {
      for (const turn of turns) {
        if (turn.responseId === response.id && !FINAL.has(turn.status)) {
          turn.status = status;
          touch(turn);
        }
      }
    }
  }

  function onClient(e, entry) {
    if (e.type === "conversation.item.create") {
      const turn = applyItem(e.item, entry, { previousItemId: e.previous_item_id, fromClient: true });
      if (turn && typeof e.event_id === "string") byEventId.set(e.event_id, turn);
    }
  }

  function add(entry) {
    const e = entry?.event;
    if (!e || typeof e.type !== "string") return false;
    changed = false;
    if (entry.direction === "server") onServer(e, entry);
    else if (entry.direction === "client") onClient(e, entry);
    if (changed) version++;
    return changed;
  }

  return {
    add,
    addMany: addEach(add),
    get turns() {
      return turns;
    },
    get version() {
      return version;
    },
    clear() {
      turns = [];
      byItem = new Map();
      byCall = new Map();
      pendingOutputs = new Map();
      provisional = [];
      byEventId = new Map();
      speaking = new Set();
      version++;
    },
  };
}

function joinParts(parts) {
  return parts.filter((p) => typeof p === "string" && p !== "").join("\n");
}
