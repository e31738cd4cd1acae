import { Rng } from '@lora/core';
import type { CausalLM } from '@lora/models';
import { randomCausalLM } from '@lora/models/test';
import type { TrainBatch } from '../batch.js';
import { makeLinearsTrainable } from '../parameters.js';

/** A tiny random Llama with every linear trainable (full fine-tuning). */
export async function tinyTrainableModel(overrides: Record<string, unknown> = {}): Promise<CausalLM> {
  const model = await randomCausalLM('llama', { seed: 0, overrides });
  makeLinearsTrainable(model);
  return model;
}

/**
 * Random micro-batches `[rows, length]` with a "prompt" of 2 masked labels per row and right
 * padding on odd rows, seeded.
 */
export function randomBatches(count: number, rows: number, length: number, vocab = 64, seed = 1): TrainBatch[] {
  const rng = new Rng(seed);
  const out: TrainBatch[] = [];
  for (let n = 0; n < count; n++) {
    const inputIds = new Int32Array(rows * length);
    const labels = new Int32Array(rows * length);
    const attentionMask = new Uint8Array(rows * length);
    for (let r = 0; r < rows; r++) {
      const real = r % 2 === 1 ? length - 2 : length;
      for (let t = 0; t < length; t++) {
        const i = r * length + t;
        const pad = t >= real;
        inputIds[i] = pad ? 0 : 3 + rng.nextInt(vocab - 3);
        attentionMask[i] = pad ? 0 : 1;
        labels[i] = pad || t < 2 ? -100 : (inputIds[i] as number);
      }
    }
    out.push({ inputIds, labels, attentionMask, shape: [rows, length] });
  }
  return out;
}
