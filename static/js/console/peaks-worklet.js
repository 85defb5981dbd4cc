// The audio recording's peak meter, an AudioWorklet processor (loaded by console/audio-rec.js): passes its
// input through unchanged (to the MediaStreamAudioDestinationNode that MediaRecorder records), and posts the
// max |sample| of every 20 ms of it, so the peaks the inspector draws are of the very samples recorded. No
// input (no microphone yet, the model's track not arrived) counts as silence, so time never skips.
/* global AudioWorkletProcessor, registerProcessor, sampleRate */

const BIN_MS = 20;
const BINS_PER_MESSAGE = 5;

class Peaks extends AudioWorkletProcessor {
  constructor() {
    super();
    this.bin = Math.round((sampleRate * BIN_MS) / 1000);
    this.frame = 0; // frames seen, from this node's first render
    this.inBin = 0;
    this.max = 0;
    this.first = 0; // the first frame of the first bin in `out`
    this.out = [];
  }

  process(inputs, outputs) {
    const input = inputs[0] ?? [];
    const output = outputs[0] ?? [];
    for (let c = 0; c < output.length; c++) {
      const src = input[c] ?? input[0];
      if (src) output[c].set(src);
      else output[c].fill(0);
    }
    const frames = output[0]?.length ?? input[0]?.length ?? 128;
    for (let i = 0; i < frames; i++) {
      let v = 0;
      for (let c = 0; c < input.length; c++) v = Math.max(v, Math.abs(input[c][i]));
      if (v > this.max) this.max = v;
      if (++this.inBin === this.bin) {
        if (!this.out.length) this.first = this.frame + i + 1 - this.bin;
        this.out.push(this.max);
        this.inBin = 0;
        this.max = 0;
      }
    }
    this.frame += frames;
    if (this.out.length >= BINS_PER_MESSAGE) {
      this.port.postMessage({ frame: this.first, end: this.frame, rate: sampleRate, peaks: this.out });
      this.out = [];
    }
    return true;
  }
}

registerProcessor("console-peaks", Peaks);
