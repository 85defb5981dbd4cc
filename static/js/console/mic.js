// The microphone controls: device choice, mute, push-to-talk (button or space bar) and the two level
// meters. Actions go up as CustomEvents on `root`: `ptt` {down: boolean}, `mic-device` {deviceId}.

import { el, emit } from "../lib/dom.js";
import { createMeter, listMics } from "./audio.js";

function typingIn(target) {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))
  );
}

export function mount(root, { device, mute, ptt, meterIn, meterOut }) {
  let track = null;
  let muted = false;
  let holding = false;
  let pttOnly = false;
  let inMeter = null;
  let outMeter = null;
  let frame = 0;

  function applyEnabled() {
    if (track) track.enabled = pttOnly ? holding : !muted || holding;
    mute.setAttribute("aria-pressed", String(muted));
    mute.textContent = muted ? "Unmute" : "Mute";
    ptt.classList.toggle("held", holding);
  }

  async function refreshDevices() {
    const mics = await listMics().catch(() => []);
    const chosen = device.value;
    const options = [
      ["", "default"],
      ...mics.filter((m) => m.deviceId && m.deviceId !== "default").map((m) => [m.deviceId, m.label]),
    ];
    device.replaceChildren(...options.map(([value, label]) => el("option", { value, text: label })));
    if (options.some(([v]) => v === chosen)) device.value = chosen;
  }

  function press(down) {
    if (ptt.disabled || holding === down) return;
    holding = down;
    applyEnabled();
    emit(root, "ptt", { down });
  }

  function tick() {
    meterIn.value = inMeter ? inMeter.level() : 0;
    meterOut.value = outMeter ? outMeter.level() : 0;
    frame = requestAnimationFrame(tick);
  }

  mute.addEventListener("click", () => {
    muted = !muted;
    applyEnabled();
  });
  device.addEventListener("change", () => emit(root, "mic-device", { deviceId: device.value }));
  ptt.addEventListener("pointerdown", (e) => {
    try {
      // Keep the release even if the pointer leaves the button.
      ptt.setPointerCapture(e.pointerId);
    } catch {
      // A synthetic event has no active pointer to capture.
    }
    press(true);
  });
  ptt.addEventListener("pointerup", () => press(false));
  ptt.addEventListener("pointercancel", () => press(false));
  ptt.addEventListener("keydown", (e) => {
    if (e.key === "Enter") press(true);
  });
  ptt.addEventListener("keyup", (e) => {
    if (e.key === "Enter") press(false);
  });
  window.addEventListener("keydown", (e) => {
    if (e.code === "Space" && !e.repeat && !typingIn(e.target) && !ptt.disabled) {
      e.preventDefault();
      press(true);
    }
  });
  window.addEventListener("keyup", (e) => {
    if (e.code === "Space" && holding) {
      e.preventDefault();
      press(false);
    }
  });
  window.addEventListener("blur", () => press(false));
  navigator.mediaDevices?.addEventListener?.("devicechange", refreshDevices);
  refreshDevices();

  return {
    deviceId: () => device.value,
    /** The track the meters and mute act on (null when disconnected). */
    setTrack(t) {
      if (inMeter) inMeter.stop();
      inMeter = null;
      track = t;
      if (t) {
        try {
          inMeter = createMeter(new MediaStream([t]));
        } catch {
          inMeter = null;
        }
        refreshDevices();
      }
      applyEnabled();
      if (!frame && (inMeter || outMeter)) frame = requestAnimationFrame(tick);
    },
    setRemote(stream) {
      if (outMeter) outMeter.stop();
      outMeter = null;
      if (stream) {
        try {
          outMeter = createMeter(stream);
        } catch {
          outMeter = null;
        }
      }
      if (!frame && (inMeter || outMeter)) frame = requestAnimationFrame(tick);
    },
    /** With turn detection off the microphone is open only while push-to-talk is held. */
    setPttOnly(on) {
      pttOnly = on;
      applyEnabled();
    },
    setEnabled(on) {
      ptt.disabled = !on;
      if (!on && holding) {
        holding = false;
        applyEnabled();
      }
    },
    stop() {
      this.setTrack(null);
      this.setRemote(null);
      cancelAnimationFrame(frame);
      frame = 0;
      meterIn.value = 0;
      meterOut.value = 0;
    },
  };
}
