// Named presets of the session config (and the custom tools' mock outputs), kept in localStorage.
// `storage` is anything with getItem/setItem (localStorage in the page, a Map-backed stub in tests).

const KEY = "realtime-console.presets.v1";
const LAST = "realtime-console.last.v1";

function read(storage, key) {
  try {
    const v = JSON.parse(storage.getItem(key) || "null");
    return v && typeof v === "object" ? v : null;
  } catch {
    return null;
  }
}

function write(storage, key, value) {
  try {
    storage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    // Full or disabled storage: presets are a convenience, the console works without them.
    return false;
  }
}

export function createPresets(storage) {
  const all = () => read(storage, KEY) || {};
  return {
    names() {
      return Object.keys(all()).sort((a, b) => a.localeCompare(b));
    },
    get(name) {
      return all()[name] ?? null;
    },
    save(name, preset) {
      const n = String(name || "").trim();
      if (!n) return false;
      const presets = all();
      presets[n] = preset;
      return write(storage, KEY, presets);
    },
    remove(name) {
      const presets = all();
      delete presets[name];
      return write(storage, KEY, presets);
    },
    /** The config last used, restored when the page opens. */
    last() {
      return read(storage, LAST);
    },
    remember(preset) {
      return write(storage, LAST, preset);
    },
  };
}
