// The session library (/sessions): estimated cost per row, rename in place, delete with a confirmation,
// import a JSONL export by file picker or drag and drop. Rows are rendered by the server.

import { DEFAULT_PRICES, costOf, normalizeUsage, priceFor } from "../lib/metrics.js";
import { storeUsageToApi } from "./usage.js";

const status = document.getElementById("lib-status");
const say = (text) => {
  if (status) status.textContent = text;
};

function prices() {
  try {
    const saved = JSON.parse(localStorage.getItem("realtime-console.prices") ?? "null");
    return saved && typeof saved === "object" ? { ...DEFAULT_PRICES, ...saved } : DEFAULT_PRICES;
  } catch {
    return DEFAULT_PRICES;
  }
}

function fillCosts() {
  const table = prices();
  for (const row of document.querySelectorAll("#sessions tbody tr")) {
    const cell = row.querySelector(".cost");
    let usage;
    try {
      usage = JSON.parse(row.dataset.usage || "null");
    } catch {
      usage = null;
    }
    if (!cell || !usage || !usage.total_tokens) continue;
    const cost = costOf(normalizeUsage(storeUsageToApi(usage)), priceFor(table, row.dataset.model));
    cell.textContent = cost.total < 0.01 ? `$${cost.total.toFixed(4)}` : `$${cost.total.toFixed(2)}`;
    cell.title = "Estimate from the console's price table";
  }
}

async function apiError(res) {
  try {
    const body = await res.json();
    return body?.error?.message ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

function editLabel(span) {
  const row = span.closest("tr");
  const input = document.createElement("input");
  input.type = "text";
  input.className = "label-edit";
  input.maxLength = 200;
  input.value = span.textContent;
  input.setAttribute("aria-label", "Session label");
  span.hidden = true;
  span.after(input);
  input.focus();
  input.select();
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    const label = input.value.trim();
    input.remove();
    span.hidden = false;
    if (!save || label === span.textContent) return;
    const res = await fetch(`/api/sessions/${row.dataset.id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ label }),
    });
    if (res.ok) {
      span.textContent = (await res.json()).label;
      say("Label saved.");
    } else {
      say(`Could not rename: ${await apiError(res)}`);
    }
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") finish(true);
    if (e.key === "Escape") finish(false);
  });
  input.addEventListener("blur", () => finish(true));
}

const dialog = document.getElementById("confirm-delete");

function confirmDelete(row) {
  const label = row.querySelector(".label-text")?.textContent || row.dataset.id;
  dialog.querySelector(".what").textContent = label;
  dialog.returnValue = "";
  dialog.showModal();
  dialog.addEventListener(
    "close",
    async () => {
      if (dialog.returnValue !== "delete") return;
      const res = await fetch(`/api/sessions/${row.dataset.id}`, { method: "DELETE" });
      if (res.status === 204 || res.status === 404) {
        row.remove();
        say(`Deleted “${label}”.`);
      } else {
        say(`Could not delete: ${await apiError(res)}`);
      }
    },
    { once: true },
  );
}

async function importFile(file) {
  say(`Importing ${file.name}…`);
  const label = file.name.replace(/\.(jsonl|ndjson|txt)$/i, "");
  const res = await fetch(`/api/sessions/import?label=${encodeURIComponent(label)}`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body: file,
  });
  if (res.status === 201) {
    const session = await res.json();
    say(`Imported ${session.stats.events.total} events.`);
    location.assign(`/sessions/${session.id}`);
  } else {
    say(`Import failed: ${await apiError(res)}`);
  }
}

document.addEventListener("click", (e) => {
  const span = e.target.closest(".label-text");
  if (span) return editLabel(span);
  const del = e.target.closest("button.delete");
  if (del) return confirmDelete(del.closest("tr"));
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && e.target.classList?.contains("label-text")) editLabel(e.target);
});

const picker = document.querySelector("#import input[type=file]");
picker?.addEventListener("change", () => {
  if (picker.files?.[0]) importFile(picker.files[0]);
});
document.addEventListener("dragover", (e) => {
  if ([...(e.dataTransfer?.types ?? [])].includes("Files")) {
    e.preventDefault();
    document.body.classList.add("dropping");
  }
});
document.addEventListener("dragleave", (e) => {
  if (!e.relatedTarget) document.body.classList.remove("dropping");
});
document.addEventListener("drop", (e) => {
  const file = e.dataTransfer?.files?.[0];
  document.body.classList.remove("dropping");
  if (!file) return;
  e.preventDefault();
  importFile(file);
});

fillCosts();
