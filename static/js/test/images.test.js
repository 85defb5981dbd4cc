import assert from "node:assert/strict";
import { test } from "node:test";

import { userText } from "../console/commands.js";
import { MAX_IMAGE_BYTES, imageProblem, messageContent, sizeText } from "../console/images.js";

test("PNG and JPEG within the size limit can go; anything else says why not", () => {
  assert.equal(imageProblem({ type: "image/png", size: 68 }), null);
  assert.equal(imageProblem({ type: "image/jpeg", size: MAX_IMAGE_BYTES }), null);
  assert.match(imageProblem({ type: "image/gif", size: 10 }), /PNG or JPEG/);
  assert.match(imageProblem({ type: "image/png", size: MAX_IMAGE_BYTES + 1 }), /at most 180 KiB/);
  // The event that carries the largest image stays under the recorder's 256 KiB.
  const [create] = userText("", ["data:image/png;base64," + "A".repeat(Math.ceil(MAX_IMAGE_BYTES / 3) * 4)]);
  assert.ok(JSON.stringify(create).length < 256 * 1024);
});

test("a message's content: its text, then its images as input_image data URLs", () => {
  assert.deepEqual(messageContent("hi", ["data:image/png;base64,AAAA"]), [
    { type: "input_text", text: "hi" },
    { type: "input_image", image_url: "data:image/png;base64,AAAA" },
  ]);
  assert.deepEqual(messageContent("", ["data:x"]), [{ type: "input_image", image_url: "data:x" }]);
  const [create, response] = userText("hello");
  assert.deepEqual(create.item.content, [{ type: "input_text", text: "hello" }]);
  assert.equal(response.type, "response.create");
});

test("the attached image's size: bytes under 1 KiB, else KiB rounded up", () => {
  assert.equal(sizeText(94), "94 B");
  assert.equal(sizeText(1024), "1 KiB");
  assert.equal(sizeText(180 * 1024 - 1), "180 KiB");
});
