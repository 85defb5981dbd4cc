// The text box, its image and the Interrupt button of the conversation panel. Enabled while the data
// channel is open (`setEnabled`); what the user does goes up as CustomEvents on `root`: `talk-text`
// {text, images} (text trimmed; images the data URLs of the attached or pasted image; never both empty),
// `talk-interrupt`.

import { emit } from "../lib/dom.js";
import { imageProblem, sizeText } from "./images.js";

export function mount(root, { form, input, send, interrupt, file, chip, chipName, chipRemove, onProblem }) {
  let image = null; // {name, size, dataUrl}

  function showImage() {
    chip.hidden = !image;
    chipName.textContent = image ? `${image.name} · ${sizeText(image.size)}` : "";
  }
  function attach(f) {
    const problem = imageProblem(f);
    if (problem) return onProblem(problem);
    const reader = new FileReader();
    reader.onload = () => {
      image = { name: f.name || "pasted image", size: f.size, dataUrl: String(reader.result) };
      showImage();
    };
    reader.onerror = () => onProblem(`Could not read the image: ${reader.error?.message || reader.error}`);
    reader.readAsDataURL(f);
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (text || image) emit(root, "talk-text", { text, images: image ? [image.dataUrl] : [] });
  });
  file.addEventListener("change", () => {
    if (file.files[0]) attach(file.files[0]);
    file.value = "";
  });
  input.addEventListener("paste", (e) => {
    const f = [...(e.clipboardData?.files || [])].find((x) => x.type.startsWith("image/"));
    if (!f) return;
    e.preventDefault();
    attach(f);
  });
  chipRemove.addEventListener("click", () => {
    image = null;
    showImage();
  });
  interrupt.addEventListener("click", () => emit(root, "talk-interrupt"));

  return {
    setEnabled(on) {
      for (const node of [input, send, interrupt, file]) node.disabled = !on;
    },
    /** The message went out: empty the box and drop its image. */
    sent() {
      input.value = "";
      image = null;
      showImage();
    },
    focus() {
      input.focus();
    },
  };
}
