// The inspector's replay controls (Replay, Pause, Step, Instant, speed, the position slider). `update(view)`
// shows inspector-state.js's `replayView()`; the controls go up as CustomEvents on the element:
// `replay:play`, `replay:pause`, `replay:step`, `replay:all`, `replay:speed` {speed}, `replay:seek` {value}
// (the slider's 0–1000).

import { emit } from "../lib/dom.js";

export function mount(element) {
  const ctl = (name) => element.querySelector(`[data-act=${name}]`);
  for (const name of ["play", "pause", "step", "all"]) {
    ctl(name).addEventListener("click", () => emit(element, `replay:${name}`));
  }
  ctl("speed").addEventListener("change", (e) => emit(element, "replay:speed", { speed: Number(e.target.value) }));
  ctl("scrub").addEventListener("change", (e) => emit(element, "replay:seek", { value: e.target.value }));

  return {
    update({ playing, pos, scrub }) {
      ctl("play").disabled = playing;
      ctl("pause").disabled = !playing;
      ctl("pos").textContent = pos;
      if (scrub !== null) ctl("scrub").value = scrub;
    },
  };
}
