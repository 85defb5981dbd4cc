// Images the user attaches to a message: which ones can go, and the `input_image` parts they become. No DOM.

/** PNG and JPEG: the types the Realtime API asks for in an `input_image`'s data URL. */
export const IMAGE_TYPES = ["image/png", "image/jpeg"];

/**
 * At most 180 KiB a file: as a base64 data URL (4/3 of it) inside its `conversation.item.create`, the
 * event stays under the 256 KiB the recorder stores whole and the data channel carries in one message.
 */
export const MAX_IMAGE_BYTES = 180 * 1024;

/** Why `file` ({type, size}) cannot be sent, or null when it can. */
export function imageProblem({ type, size }) {
  if (!IMAGE_TYPES.includes(type)) return `${type || "this file"} is not an image the API takes (PNG or JPEG).`;
  if (size > MAX_IMAGE_BYTES)
    return `The image is ${Math.ceil(size / 1024)} KiB; at most ${MAX_IMAGE_BYTES / 1024} KiB.`;
  return null;
}

/** A file's size as the message box shows it: bytes under 1 KiB (a 94-byte PNG is not "1 KiB"), else KiB. */
export function sizeText(size) {
  return size < 1024 ? `${size} B` : `${Math.ceil(size / 1024)} KiB`;
}

/** The user message's content: the text (when any), then each image's data URL. */
export function messageContent(text, images = []) {
  return [
    ...(text ? [{ type: "input_text", text }] : []),
    ...images.map((dataUrl) => ({ type: "input_image", image_url: dataUrl })),
  ];
}
