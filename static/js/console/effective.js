// The server's effective session (the last `session.created` / `session.updated`) beside the config form:
// the rows the form shows it by, and which of the form's fields say something else. No DOM here.

const td = (s) => s?.audio?.input?.turn_detection ?? null;
const turnType = (s) => td(s)?.type ?? "none";

/**
 * The fields compared, by the form's field name: `get(session)` reads the value from a GA session (the
 * form's own, from formToSession, or the server's); `when(formSession)` says whether it applies.
 */
const FIELDS = [
  { field: "instructions", label: "Instructions", get: (s) => s?.instructions, when: (f) => "instructions" in f },
  { field: "model", label: "Model", get: (s) => s?.model, when: (f) => "model" in f },
  { field: "voice", label: "Voice", get: (s) => s?.audio?.output?.voice },
  { field: "speed", label: "Speed", get: (s) => s?.audio?.output?.speed },
  { field: "input_format", label: "Input format", get: (s) => s?.audio?.input?.format?.type },
  { field: "output_format", label: "Output format", get: (s) => s?.audio?.output?.format?.type },
  { field: "modality", label: "Output", get: (s) => s?.output_modalities },
  { field: "turn.type", label: "Turn detection", get: turnType },
  {
    field: "turn.eagerness",
    label: "Eagerness",
    get: (s) => td(s)?.eagerness,
    when: (f, s) => turnType(f) === "semantic_vad" && turnType(s) === "semantic_vad",
  },
  ...["threshold", "prefix_padding_ms", "silence_duration_ms"].map((k) => ({
    field: `turn.${k}`,
    label: k,
    get: (s) => td(s)?.[k],
    when: (f, s) => turnType(f) === "server_vad" && turnType(s) === "server_vad",
  })),
  {
    field: "turn.idle_timeout_ms",
    label: "idle_timeout_ms",
    get: (s) => td(s)?.idle_timeout_ms ?? null,
    when: (f, s) => turnType(f) === "server_vad" && turnType(s) === "server_vad",
  },
  ...["create_response", "interrupt_response"].map((k) => ({
    field: `turn.${k}`,
    label: k,
    get: (s) => td(s)?.[k],
    when: (f, s) => turnType(f) !== "none" && turnType(f) === turnType(s),
  })),
  { field: "transcription", label: "Transcription", get: (s) => s?.audio?.input?.transcription?.model ?? "" },
  { field: "noise_reduction", label: "Noise reduction", get: (s) => s?.audio?.input?.noise_reduction?.type ?? "none" },
  { field: "tools", label: "Tools", get: (s) => s?.tools ?? [] },
  { field: "tool_choice", label: "tool_choice", get: (s) => s?.tool_choice },
  { field: "max_output_tokens", label: "max_output_tokens", get: (s) => s?.max_output_tokens },
  { field: "truncation", label: "Truncation", get: (s) => s?.truncation },
  { field: "prompt.id", label: "Prompt", get: (s) => s?.prompt ?? null, when: (f) => "prompt" in f },
  { field: "include_logprobs", label: "include", get: (s) => s?.include ?? [], when: (f) => "include" in f },
  { field: "tracing", label: "Tracing", get: (s) => s?.tracing ?? null, when: (f) => "tracing" in f },
];

/**
 * Whether the server's value says what the form's does: everything the form gives is there (the server
 * adds fields of its own, such as defaults, and that is no difference); lists match item by item.
 */
export function agrees(mine, theirs) {
  if (Array.isArray(mine)) {
    return Array.isArray(theirs) && mine.length === theirs.length && mine.every((m, i) => agrees(m, theirs[i]));
  }
  if (mine && typeof mine === "object") {
    return !!theirs && typeof theirs === "object" && Object.keys(mine).every((k) => agrees(mine[k], theirs[k]));
  }
  if (typeof mine === "number" || typeof theirs === "number") return Number(mine) === Number(theirs);
  return mine === theirs;
}

/** A value as the panel shows it: names for tools, JSON for other structures. */
function shown(field, value) {
  if (value === undefined) return "—";
  if (field === "tools") return value.length ? value.map((t) => t?.name ?? "?").join(", ") : "none";
  if (typeof value === "string") return value === "" ? "(none)" : value;
  return JSON.stringify(value);
}

/**
 * The rows of the server's session, each `{field, label, server, differs}`: `server` is the text shown,
 * `differs` whether the form (its session, from formToSession; null while the form is invalid) says
 * something else there.
 */
export function compareSession(formSession, serverSession) {
  const mine = formSession || serverSession;
  return FIELDS.filter((f) => !f.when || f.when(mine, serverSession)).map((f) => ({
    field: f.field,
    label: f.label,
    server: shown(f.field, f.get(serverSession)),
    differs: !!formSession && !agrees(f.get(formSession), f.get(serverSession)),
  }));
}
