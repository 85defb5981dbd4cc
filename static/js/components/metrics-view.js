// Usage, estimated cost and latency per response and per session (lib/metrics.js), with an editable
// price table saved in localStorage. Redrawn at most once per animation frame.

import { button, el, emit } from "../lib/dom.js";
import { createMetrics, DEFAULT_PRICES, PRICE_FIELDS } from "../lib/metrics.js";

const MAX_ROWS = 200; // the newest responses; a long session's table would otherwise be the page
const STATUS = { completed: "✓", in_progress: "…" }; // the unusual ones are spelled out
// Column classes: the CSS drops in/out in a narrow side panel (they stay in the row's tooltip).
const COLUMNS = ["mv-id", "mv-c-status", "mv-c-in", "mv-c-out", "mv-c-cost", "mv-c-first", "mv-c-audio"];
const FIELD_LABEL = {
  textIn: "text in",
  textCachedIn: "text cached",
  textOut: "text out",
  audioIn: "audio in",
  audioCachedIn: "audio cached",
  audioOut: "audio out",
  imageIn: "image in",
  imageCachedIn: "image cached",
};

const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString() : "–");
const num = (n) => (Number.isFinite(n) ? String(Math.round(n)) : "–");
const ms = (n) => (Number.isFinite(n) ? `${Math.round(n)} ms` : "–");
function usd(n) {
  if (!Number.isFinite(n)) return "–";
  return n < 0.01 ? `$${n.toFixed(5)}` : `$${n.toFixed(4)}`;
}

function loadPrices(storage, key) {
  try {
    const saved = JSON.parse(storage?.getItem(key) ?? "null");
    if (!saved || typeof saved !== "object") return structuredClone(DEFAULT_PRICES);
    const out = {};
    for (const [model, row] of Object.entries({ ...DEFAULT_PRICES, ...saved })) {
      out[model] = {};
      for (const f of PRICE_FIELDS) {
        const v = Number(row?.[f]);
        out[model][f] = Number.isFinite(v) && v >= 0 ? v : (DEFAULT_PRICES[model]?.[f] ?? 0);
      }
    }
    return out;
  } catch {
    return structuredClone(DEFAULT_PRICES);
  }
}

function table(headers, className) {
  const t = el("table", className);
  const tr = el("tr");
  for (const h of headers) tr.append(el("th", undefined, h));
  const thead = el("thead");
  thead.append(tr);
  const tbody = el("tbody");
  t.append(thead, tbody);
  return [t, tbody];
}

function dl(pairs) {
  const d = el("dl", "mv-dl");
  for (const [k, v, title] of pairs) {
    const dt = el("dt", undefined, k);
    const dd = el("dd", undefined, v);
    if (title) dd.title = title;
    d.append(dt, dd);
  }
  return d;
}

/** Mounts the view. Options: `storage` (localStorage), `storageKey`, `model` (default model to price). */
export function mount(element, { storage, storageKey = "realtime-console.prices", model } = {}) {
  let prices = loadPrices(storage, storageKey);
  const metrics = createMetrics({ prices, model });
  let queued = false;

  element.classList.add("mv");
  element.replaceChildren();
  const summaryBox = el("div", "mv-summary");
  const [respTable, respBody] = table(["response", "", "in", "out", "cost", "1st Δ", "audio"], "mv-table");
  // Header tooltips carry the units the narrow columns leave out.
  const tips = [
    "",
    "status",
    "input tokens",
    "output tokens",
    "estimated USD",
    "ms from trigger to the first delta",
    "ms from trigger to output_audio_buffer.started",
  ];
  respTable.querySelectorAll("th").forEach((th, i) => {
    th.title = tips[i] ?? "";
    th.className = COLUMNS[i];
  });
  const respWrap = el("div", "mv-responses");
  const respNote = el("p", "mv-note");
  respWrap.append(respTable, respNote);
  const priceBox = el("details", "mv-prices");
  element.append(summaryBox, respWrap, priceBox);

  function render() {
    queued = false;
    const s = metrics.session;
    const u = s.usage;
    summaryBox.replaceChildren(
      dl([
        ["model", s.model],
        ["responses", String(s.responses)],
        [
          "input",
          `${int(u.input)} (text ${int(u.inputText)}, audio ${int(u.inputAudio)}${u.inputImage ? `, image ${int(u.inputImage)}` : ""})`,
        ],
        ["cached", `${int(u.cached)} (text ${int(u.cachedText)}, audio ${int(u.cachedAudio)})`],
        ["output", `${int(u.output)} (text ${int(u.outputText)}, audio ${int(u.outputAudio)})`],
        ["est. cost", usd(s.cost.total), "An estimate from the price table below; check OpenAI's pricing page."],
        [
          "1st delta",
          `median ${ms(s.latency.firstDelta.median)} · mean ${ms(s.latency.firstDelta.mean)} (n=${s.latency.firstDelta.n})`,
          "From speech_stopped or the sent response.create to the response's first delta",
        ],
        [
          "audio start",
          `median ${ms(s.latency.audioStart.median)} · mean ${ms(s.latency.audioStart.mean)} (n=${s.latency.audioStart.n})`,
          "From speech_stopped or the sent response.create to output_audio_buffer.started",
        ],
        ...(s.transcription.tokens || s.transcription.seconds
          ? [
              [
                "transcription",
                s.transcription.seconds
                  ? `${s.transcription.seconds.toFixed(1)} s`
                  : `${int(s.transcription.tokens)} tokens`,
                "Billed by the transcription model; not in the cost above",
              ],
            ]
          : []),
      ]),
    );
    const rs = metrics.responses;
    const from = Math.max(0, rs.length - MAX_ROWS);
    const rows = [];
    for (let i = from; i < rs.length; i++) {
      const r = rs[i];
      const tr = el("tr", `mv-r mv-s-${r.status}`);
      tr.dataset.seq = String(r.seq);
      // The narrow side panel keeps the details in the tooltip.
      tr.title = [
        r.responseId + (r.reason ? ` — ${r.status}: ${r.reason}` : ""),
        r.usage
          ? `input ${int(r.usage.input)} (cached ${int(r.usage.cached)}), output ${int(r.usage.output)}`
          : "no usage yet",
        r.trigger
          ? `timed from ${r.trigger.kind} #${r.trigger.seq}; response.created after ${ms(r.latency.created)}`
          : "no trigger seen: latency unknown",
      ].join("\n");
      const cells = [
        r.responseId,
        STATUS[r.status] ?? r.status,
        int(r.usage?.input),
        int(r.usage?.output),
        usd(r.cost?.total),
        num(r.latency.firstDelta),
        num(r.latency.audioStart),
      ];
      cells.forEach((text, i) => tr.append(el("td", COLUMNS[i], text)));
      rows.push(tr);
    }
    respBody.replaceChildren(...rows);
    respNote.textContent = from > 0 ? `Showing the last ${MAX_ROWS} of ${rs.length} responses.` : "";
    respNote.hidden = from === 0;
  }

  function queue() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(render);
  }

  // ---- price table (built once; rebuilt only on reset so typing is never interrupted) ----
  function applyPrices(next, save = true) {
    prices = next;
    metrics.setPrices(prices);
    if (save) {
      try {
        storage?.setItem(storageKey, JSON.stringify(prices));
      } catch {
        // Storage full or disabled: the edit still applies to this page.
      }
    }
    emit(element, "metrics:prices", { prices });
    queue();
  }

  function buildPrices() {
    const open = priceBox.open;
    const summary = el("summary", undefined, "Prices (USD per 1M tokens; estimates, check OpenAI's pricing page)");
    // One column per model and a row per price, so it fits a narrow side panel (a row per model made
    // nine columns, scrolled sideways inside its box).
    const models = Object.keys(prices);
    const [t, body] = table(["price", ...models], "mv-price-table");
    for (const f of PRICE_FIELDS) {
      const tr = el("tr");
      tr.append(el("th", undefined, FIELD_LABEL[f]));
      for (const name of models) {
        const td = el("td");
        const input = el("input", {
          type: "number",
          min: "0",
          step: "0.01",
          value: String(prices[name][f]),
          "aria-label": `${name} ${FIELD_LABEL[f]}`,
        });
        input.addEventListener("change", () => {
          const v = Number(input.value);
          if (!Number.isFinite(v) || v < 0) {
            input.value = String(prices[name][f]);
            return;
          }
          applyPrices({ ...prices, [name]: { ...prices[name], [f]: v } });
        });
        td.append(input);
        tr.append(td);
      }
      body.append(tr);
    }
    const reset = button("Reset to defaults", "mv-reset");
    reset.addEventListener("click", () => {
      try {
        storage?.removeItem(storageKey);
      } catch {
        // ignore: see applyPrices
      }
      applyPrices(structuredClone(DEFAULT_PRICES), false);
      buildPrices();
    });
    priceBox.replaceChildren(summary, t, reset);
    priceBox.open = open;
  }

  respBody.addEventListener("click", (e) => {
    const tr = e.target.closest("tr.mv-r");
    if (!tr) return;
    emit(element, "metrics:select", { seq: Number(tr.dataset.seq) });
  });

  buildPrices();
  render();

  return {
    add(entry) {
      if (metrics.add(entry)) queue();
    },
    addMany(entries) {
      if (metrics.addMany(entries)) queue();
    },
    clear() {
      metrics.clear();
      queue();
    },
    metrics,
  };
}
