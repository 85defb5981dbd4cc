// The session config editor's model: a plain form state, turned into the GA session overrides (PROTOCOL §5)
// sent with the token request or in `session.update`. No DOM here.

export const VOICES = ["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"];
export const TRANSCRIPTION_MODELS = [
  "",
  "whisper-1",
  "gpt-4o-transcribe",
  "gpt-4o-mini-transcribe",
  "gpt-4o-transcribe-diarize",
];
export const NOISE_REDUCTION = ["none", "near_field", "far_field"];
export const EAGERNESS = ["auto", "low", "medium", "high"];
export const TURN_TYPES = ["server_vad", "semantic_vad", "none"];
export const AUDIO_FORMATS = ["audio/pcm", "audio/pcmu", "audio/pcma"];
export const TRUNCATIONS = ["auto", "disabled", "retention_ratio"];
export const LOGPROBS = "item.input_audio_transcription.logprobs";

/** The form as a fresh console shows it: the API's own defaults (PROTOCOL §2.2, §5.2). */
export function defaultForm() {
  return {
    instructions: "",
    model: "",
    voice: "marin",
    modality: "audio",
    speed: 1,
    input_format: "audio/pcm",
    output_format: "audio/pcm",
    turn: {
      type: "server_vad",
      threshold: 0.5,
      prefix_padding_ms: 300,
      silence_duration_ms: 200,
      eagerness: "auto",
      create_response: true,
      interrupt_response: true,
      idle_timeout_ms: "",
    },
    transcription: "",
    noise_reduction: "none",
    tools: "[]",
    tool_choice: "auto",
    max_output_tokens: "inf",
    truncation: "auto",
    retention_ratio: 0.8,
    tracing: "",
    prompt: { id: "", version: "", variables: "" },
    include_logprobs: false,
  };
}

/** A copy of `form` with every missing field taken from the defaults (presets saved by older versions). */
export function completeForm(form) {
  const base = defaultForm();
  const given = form && typeof form === "object" ? form : {};
  return {
    ...base,
    ...given,
    turn: { ...base.turn, ...(given.turn || {}) },
    prompt: { ...base.prompt, ...(given.prompt || {}) },
  };
}

function turnDetection(turn) {
  if (turn.type === "none") return null;
  const common = { create_response: !!turn.create_response, interrupt_response: !!turn.interrupt_response };
  if (turn.type === "semantic_vad") return { type: "semantic_vad", eagerness: turn.eagerness || "auto", ...common };
  return {
    type: "server_vad",
    threshold: Number(turn.threshold),
    prefix_padding_ms: Math.round(Number(turn.prefix_padding_ms)),
    silence_duration_ms: Math.round(Number(turn.silence_duration_ms)),
    idle_timeout_ms: idleTimeout(turn.idle_timeout_ms),
    ...common,
  };
}

/** The idle timeout field: empty is off (null). */
function idleTimeout(value) {
  const t = String(value ?? "").trim();
  return t === "" ? null : Math.round(Number(t));
}

const format = (type) => (type === "audio/pcm" ? { type, rate: 24000 } : { type });

function parseToolChoice(text) {
  const t = String(text || "").trim();
  if (t === "" || t === "auto" || t === "none" || t === "required") return { value: t || "auto" };
  if (t.startsWith("{")) {
    try {
      return { value: JSON.parse(t) };
    } catch (e) {
      return { error: `not JSON: ${e.message}` };
    }
  }
  // A bare tool name forces that function.
  return { value: { type: "function", name: t } };
}

/**
 * The session overrides `form` describes: `{session, errors}`. `errors` lists `{field, message}`; when it is
 * not empty `session` is null and nothing should be sent.
 */
export function formToSession(form) {
  const f = completeForm(form);
  const errors = [];
  let tools = [];
  try {
    tools = JSON.parse(f.tools.trim() === "" ? "[]" : f.tools);
    if (!Array.isArray(tools)) errors.push({ field: "tools", message: "tools must be a JSON array" });
    else
      tools.forEach((t, i) => {
        if (!t || typeof t !== "object" || typeof t.name !== "string" || !t.name) {
          errors.push({ field: "tools", message: `tools[${i}] needs a name` });
        }
      });
  } catch (e) {
    errors.push({ field: "tools", message: `tools is not JSON: ${e.message}` });
  }
  const choice = parseToolChoice(f.tool_choice);
  if (choice.error) errors.push({ field: "tool_choice", message: `tool_choice ${choice.error}` });
  let maxTokens = String(f.max_output_tokens).trim();
  if (maxTokens === "" || maxTokens === "inf") maxTokens = "inf";
  else {
    const n = Number(maxTokens);
    if (!Number.isInteger(n) || n < 1 || n > 4096) {
      errors.push({ field: "max_output_tokens", message: "max_output_tokens is an integer 1–4096 or inf" });
    }
    maxTokens = n;
  }
  const t = f.turn;
  if (t.type === "server_vad") {
    const th = Number(t.threshold);
    if (!(th >= 0 && th <= 1)) errors.push({ field: "turn.threshold", message: "threshold is between 0 and 1" });
    for (const k of ["prefix_padding_ms", "silence_duration_ms"]) {
      const v = Number(t[k]);
      if (!Number.isFinite(v) || v < 0) errors.push({ field: `turn.${k}`, message: `${k} is a number of ms ≥ 0` });
    }
  }
  const speed = Number(f.speed);
  if (!(speed >= 0.25 && speed <= 1.5)) errors.push({ field: "speed", message: "speed is between 0.25 and 1.5" });
  if (t.type === "server_vad") {
    const idle = idleTimeout(t.idle_timeout_ms);
    if (idle !== null && !(idle >= 5000 && idle <= 30000)) {
      errors.push({ field: "turn.idle_timeout_ms", message: "idle timeout is 5000–30000 ms, or empty for off" });
    }
  }
  const ratio = Number(f.retention_ratio);
  if (f.truncation === "retention_ratio" && !(String(f.retention_ratio).trim() !== "" && ratio >= 0 && ratio <= 1)) {
    errors.push({ field: "retention_ratio", message: "retention ratio is between 0 and 1" });
  }
  const promptId = String(f.prompt.id || "").trim();
  let variables;
  const varText = String(f.prompt.variables || "").trim();
  if (promptId && varText) {
    try {
      variables = JSON.parse(varText);
      if (!variables || typeof variables !== "object" || Array.isArray(variables)) {
        errors.push({ field: "prompt.variables", message: "prompt variables are a JSON object" });
      }
    } catch (e) {
      errors.push({ field: "prompt.variables", message: `prompt variables are not JSON: ${e.message}` });
    }
  }
  if (errors.length) return { session: null, errors };
  const session = {
    type: "realtime",
    instructions: f.instructions,
    output_modalities: [f.modality === "text" ? "text" : "audio"],
    audio: {
      input: {
        turn_detection: turnDetection(t),
        transcription: f.transcription ? { model: f.transcription } : null,
        noise_reduction: f.noise_reduction && f.noise_reduction !== "none" ? { type: f.noise_reduction } : null,
      },
      output: { voice: f.voice, speed, format: format(f.output_format) },
    },
    tools: tools.map((tool) => ({ type: "function", ...tool })),
    tool_choice: choice.value,
    max_output_tokens: maxTokens,
    truncation: f.truncation === "retention_ratio" ? { type: "retention_ratio", retention_ratio: ratio } : f.truncation,
  };
  // Only a choice is sent: an empty model is the server's, and tracing, once on, cannot be turned off.
  if (f.model) session.model = f.model;
  session.audio.input = { format: format(f.input_format), ...session.audio.input };
  if (f.tracing === "auto") session.tracing = "auto";
  if (promptId) {
    session.prompt = { id: promptId };
    const version = String(f.prompt.version || "").trim();
    if (version) session.prompt.version = version;
    if (variables) session.prompt.variables = variables;
  }
  if (f.include_logprobs) session.include = [LOGPROBS];
  // An empty instructions field keeps the server's default instructions.
  if (session.instructions === "") delete session.instructions;
  return { session, errors };
}

/** Whether push-to-talk drives the turns: with turn detection off, the client commits and asks. */
export function manualTurns(form) {
  return completeForm(form).turn.type === "none";
}

/** The form that shows an effective session (from `session.created` / `session.updated`). */
export function sessionToForm(session, tools) {
  const form = defaultForm();
  if (!session || typeof session !== "object") return form;
  if (typeof session.instructions === "string") form.instructions = session.instructions;
  const input = session.audio?.input || {};
  const output = session.audio?.output || {};
  if (typeof output.voice === "string") form.voice = output.voice;
  if (typeof output.speed === "number") form.speed = output.speed;
  if (typeof output.format?.type === "string") form.output_format = output.format.type;
  if (typeof input.format?.type === "string") form.input_format = input.format.type;
  if (typeof session.model === "string") form.model = session.model;
  if (Array.isArray(session.output_modalities))
    form.modality = session.output_modalities[0] === "text" ? "text" : "audio";
  const td = input.turn_detection;
  if (td === null) form.turn.type = "none";
  else if (td && typeof td === "object") {
    form.turn = { ...form.turn, ...td, type: td.type === "semantic_vad" ? "semantic_vad" : "server_vad" };
    form.turn.idle_timeout_ms = td.idle_timeout_ms == null ? "" : String(td.idle_timeout_ms);
  }
  form.transcription = input.transcription?.model || "";
  form.noise_reduction = input.noise_reduction?.type || "none";
  const list = tools ?? session.tools;
  if (Array.isArray(list)) form.tools = JSON.stringify(list, null, 2);
  const choice = session.tool_choice;
  if (typeof choice === "string") form.tool_choice = choice;
  else if (choice && typeof choice === "object") form.tool_choice = JSON.stringify(choice);
  if (session.max_output_tokens !== undefined) form.max_output_tokens = String(session.max_output_tokens);
  const trunc = session.truncation;
  if (typeof trunc === "string") form.truncation = trunc;
  else if (trunc?.type === "retention_ratio") {
    form.truncation = "retention_ratio";
    form.retention_ratio = trunc.retention_ratio;
  }
  if (session.tracing === "auto" || (session.tracing && typeof session.tracing === "object")) form.tracing = "auto";
  const prompt = session.prompt;
  if (prompt && typeof prompt.id === "string") {
    form.prompt = {
      id: prompt.id,
      version: prompt.version ?? "",
      variables: prompt.variables ? JSON.stringify(prompt.variables) : "",
    };
  }
  form.include_logprobs = Array.isArray(session.include) && session.include.includes(LOGPROBS);
  return form;
}
