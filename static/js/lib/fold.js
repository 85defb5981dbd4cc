// Shared by the event folds (metrics, transcript): each folds one log entry at a time with add(entry), which
// returns whether the fold changed.

/** addMany for a fold: adds every entry, and returns whether any of them changed it. */
export function addEach(add) {
  return (entries) => {
    let any = false;
    for (const e of entries) any = add(e) || any;
    return any;
  };
}
