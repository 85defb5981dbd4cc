// Where the audio uploader (lib/audio-upload.js) keeps the chunks the server has not acknowledged yet, across
// a page reload: IndexedDB, because chunks are Blobs (about 4 KiB a second per track) that a Storage of
// strings would have to hold as base64 in its 5 MiB. Shared by the origin's tabs, which is harmless: a chunk
// is only ever resent as the same bytes, and the server stores it once.

const DB = "realtime-console-audio";
const STORE = "chunks";

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** A store `{put(record), delete(id), all()}` over IndexedDB, or null where there is none. */
export function openAudioStore(indexedDB = globalThis.indexedDB) {
  if (!indexedDB) return null;
  let db = null;
  function open() {
    db ??= new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "id" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    return db;
  }
  async function tx(mode, fn) {
    const t = (await open()).transaction(STORE, mode);
    const done = new Promise((resolve, reject) => {
      t.oncomplete = () => resolve();
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
    const result = await fn(t.objectStore(STORE));
    await done;
    return result;
  }
  return {
    put: (record) => tx("readwrite", (s) => request(s.put(record))),
    delete: (id) => tx("readwrite", (s) => request(s.delete(id))),
    all: () => tx("readonly", (s) => request(s.getAll())),
  };
}
