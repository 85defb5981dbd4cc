// The demo tools the console runs in the browser, and how a call finds its handler: a built-in, a custom
// tool's fixed mock output, or the user typing the output in a prompt. No DOM here.

export const BUILTIN_TOOLS = [
  {
    type: "function",
    name: "get_current_time",
    description: "The current date and time in the user's browser, with its time zone.",
    parameters: { type: "object", properties: {}, required: [] },
  },
  {
    type: "function",
    name: "display_color_palette",
    description: "Shows the user a palette of colors in the console. Use it when asked for colors or a palette.",
    parameters: {
      type: "object",
      properties: {
        theme: { type: "string", description: 'What the palette is for, e.g. "sunset".' },
        colors: {
          type: "array",
          description: "Three to six CSS hex colors such as #ff8800.",
          items: { type: "string" },
        },
      },
      required: ["theme", "colors"],
    },
  },
  {
    type: "function",
    name: "roll_dice",
    description: "Rolls dice and returns each result and the sum.",
    parameters: {
      type: "object",
      properties: {
        count: { type: "integer", minimum: 1, maximum: 20, description: "How many dice." },
        sides: { type: "integer", minimum: 2, maximum: 100, description: "Sides of each die." },
      },
      required: ["count", "sides"],
    },
  },
];

export const BUILTIN_NAMES = BUILTIN_TOOLS.map((t) => t.name);

const HEX = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;

function parseArgs(text) {
  if (text && typeof text === "object") return text;
  try {
    const v = JSON.parse(text || "{}");
    return v && typeof v === "object" ? v : {};
  } catch {
    return {};
  }
}

function clampInt(v, lo, hi, fallback) {
  const n = Math.trunc(Number(v));
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : fallback;
}

/** A palette the model may have left empty or half valid: hex colors only, a default when none. */
export function paletteOf(args) {
  const a = parseArgs(args);
  const colors = (Array.isArray(a.colors) ? a.colors : [])
    .filter((c) => typeof c === "string" && HEX.test(c))
    .slice(0, 12);
  return {
    theme: typeof a.theme === "string" && a.theme ? a.theme : "untitled",
    colors: colors.length ? colors : ["#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51"],
  };
}

/**
 * Runs a built-in tool: its output object. `now` and `random` are injected for tests.
 */
export function runBuiltin(name, args, { now = new Date(), random = Math.random } = {}) {
  const a = parseArgs(args);
  switch (name) {
    case "get_current_time":
      return {
        iso: now.toISOString(),
        local: now.toString(),
        time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      };
    case "display_color_palette": {
      const p = paletteOf(a);
      return { shown: true, theme: p.theme, colors: p.colors };
    }
    case "roll_dice": {
      const count = clampInt(a.count, 1, 20, 1);
      const sides = clampInt(a.sides, 2, 100, 6);
      const rolls = Array.from({ length: count }, () => 1 + Math.floor(random() * sides));
      return { rolls, sum: rolls.reduce((x, y) => x + y, 0), sides };
    }
    default:
      return undefined;
  }
}

/**
 * How a call is answered: `{kind:'builtin'}`, `{kind:'mock', output}` or `{kind:'prompt'}`.
 * `mocks` maps a custom tool's name to its fixed output; an empty or missing mock means the user types it.
 */
export function handlerFor(name, mocks) {
  if (BUILTIN_NAMES.includes(name)) return { kind: "builtin" };
  const mock = mocks?.[name];
  if (typeof mock === "string" && mock !== "") return { kind: "mock", output: mock };
  return { kind: "prompt" };
}

/** A custom tool definition from the panel's fields, or `{error}`. */
export function customTool({ name, description, parameters }) {
  const n = String(name || "").trim();
  if (!/^[a-zA-Z0-9_-]{1,64}$/.test(n)) return { error: "the name is 1–64 letters, digits, _ or -" };
  let params;
  try {
    params = JSON.parse(String(parameters || "").trim() || '{"type":"object","properties":{}}');
  } catch (e) {
    return { error: `the parameters are not JSON: ${e.message}` };
  }
  if (!params || typeof params !== "object" || Array.isArray(params))
    return { error: "the parameters are a JSON Schema object" };
  return { tool: { type: "function", name: n, description: String(description || ""), parameters: params } };
}

/** `tools` (an array) with `tool` added, or replacing the one of the same name. */
export function withTool(tools, tool) {
  const out = tools.filter((t) => t?.name !== tool.name);
  out.push(tool);
  return out;
}

export function withoutTool(tools, name) {
  return tools.filter((t) => t?.name !== name);
}
