// Replay timing: plays recorded entries back at their recorded pace (× speed), pauses, steps, seeks.
// No DOM and no clock of its own: time and timers are injected, so it can be tested with a fake clock.
//
// Entries come from `fetchPage(afterSeq)` → Promise<{ events: Entry[], next: number | null }>, a page at a
// time, so replaying a long session never holds more than what has been played plus one page.
// A silence longer than `maxGapMs` (at 1×) is shortened to it: nobody wants to wait out a 5-minute pause.

export function createReplay({
  fetchPage,
  onEntry,
  onReset = () => {},
  onState = () => {},
  setTimer = (fn, ms) => setTimeout(fn, ms),
  clearTimer = (t) => clearTimeout(t),
  maxGapMs = 5000,
}) {
  let buffer = [];
  let next = 0; // after_seq of the next page; null when the session is exhausted
  let loading = null;
  let last = null; // the last entry played
  let playing = false;
  let speed = 1;
  let timer = null;
  let played = 0;
  let gen = 0; // bumps on reset, so a page fetched for an older run is dropped

  const state = () => ({ playing, speed, played, position: last?.ts ?? null, done: isDone() });
  const isDone = () => buffer.length === 0 && next === null;
  const emit = () => onState(state());

  async function fill() {
    if (buffer.length > 0 || next === null) return;
    if (!loading) {
      const g = gen;
      loading = fetchPage(next)
        .then((page) => {
          if (g !== gen) return;
          buffer.push(...page.events);
          next = page.next;
        })
        .finally(() => {
          loading = null;
        });
    }
    await loading;
  }

  async function take() {
    await fill();
    return buffer.shift();
  }

  function play1(entry) {
    last = entry;
    played += 1;
    onEntry(entry);
  }

  async function tick() {
    timer = null;
    if (!playing) return;
    const entry = await take();
    if (!playing) {
      if (entry) buffer.unshift(entry);
      return;
    }
    if (!entry) {
      playing = false;
      emit();
      return;
    }
    play1(entry);
    emit();
    if (buffer.length < 50) fill();
    schedule();
  }

  async function schedule() {
    await fill();
    if (!playing) return;
    const upcoming = buffer[0];
    if (!upcoming) {
      if (next === null) {
        playing = false;
        emit();
      } else timer = setTimer(tick, 0);
      return;
    }
    const gap = last ? Math.min(Math.max(0, upcoming.ts - last.ts), maxGapMs) : 0;
    timer = setTimer(tick, gap / speed);
  }

  return {
    get state() {
      return state();
    },
    /** Starts (or resumes) playing from where it stands; from the start again once it reached the end. */
    play() {
      if (playing) return;
      if (isDone() && played > 0) this.reset();
      playing = true;
      emit();
      schedule();
    },
    pause() {
      playing = false;
      if (timer !== null) clearTimer(timer);
      timer = null;
      emit();
    },
    setSpeed(x) {
      speed = x > 0 ? x : 1;
      if (playing) {
        if (timer !== null) clearTimer(timer);
        schedule();
      }
      emit();
    },
    /** Plays exactly one entry (pausing first). Resolves to it, or undefined at the end. */
    async step() {
      this.pause();
      const entry = await take();
      if (entry) play1(entry);
      emit();
      return entry;
    },
    /** Plays everything left at once (pausing first), a page at a time. */
    async instant() {
      this.pause();
      for (let e = await take(); e; e = await take()) play1(e);
      emit();
    },
    /** Starts over, then plays instantly every entry with ts ≤ `ts`, and stays paused there. */
    async seek(ts) {
      this.reset();
      for (;;) {
        await fill();
        const e = buffer[0];
        if (!e || e.ts > ts) break;
        play1(buffer.shift());
      }
      emit();
    },
    /** Back to the start, nothing played. */
    reset() {
      this.pause();
      gen += 1;
      buffer = [];
      next = 0;
      loading = null;
      last = null;
      played = 0;
      onReset();
      emit();
    },
  };
}
