import * as tf from '@tensorflow/tfjs';
import { Rng } from '@lora/core';
import type { CausalLM } from '@lora/models';
import { variableGradsLean } from '@lora/models/internal';
import { randomCausalLM, setupTestBackend } from '@lora/models/test';
import { getPeftModel, loraConfig } from '@lora/peft';
import { beforeAll, describe, expect, it } from 'vitest';
import { chunkedCausalLmLossSum, modelLossSum } from './chunked-loss.js';

beforeAll(async () => {
  await setupTestBackend();
});

/** Ids of a tiny model's vocabulary (64) and labels with a masked prefix per row and one masked row. */
function batch(rows: number, length: number): { ids: Int32Array; labels: Int32Array } {
  const rng = new Rng(11);
  const ids = new Int32Array(rows * length).map(() => 3 + rng.nextInt(61));
  const labels = ids.map((id, i) => (i % length < 3 || Math.floor(i / length) === 1 ? -100 : id));
  return { ids, labels };
}

/** Loss and every trainable gradient (in `variables` order) through `modelLossSum` at `chunkSize`. */
async function lossAndGrads(model: CausalLM, chunkSize: number | 'auto', rows = 3, length = 9) {
  const { ids, labels } = batch(rows, length);
  const variables = model.trainableVariables();
  const { value, grads } = variableGradsLean(
    () => modelLossSum(model, tf.tensor2d(ids, [rows, length], 'int32'), labels, {}, { chunkSize }).sum,
    variables,
  );
  const loss = (await value.data())[0] as number;
  const g = await Promise.all(
    variables.map(async (v) => (grads[v.name] === undefined ? undefined : await (grads[v.name] as tf.Tensor).data())),
  );
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: g, names: variables.map((v) => v.name) };
}

async function expectSameAsUnchunked(model: CausalLM, chunkSize: number): Promise<void> {
  const full = await lossAndGrads(model, 0);
  const chunked = await lossAndGrads(model, chunkSize);
  expect(Math.abs(chunked.loss - full.loss) / Math.abs(full.loss)).toBeLessThan(1e-5);
  expect(chunked.names).toEqual(full.names);
  let compared = 0;
  full.grads.forEach((g, i) => {
    const c = chunked.grads[i];
    expect(c === undefined).toBe(g === undefined);
    if (g === undefined || c === undefined) return;
    // Relative to the gradient's norm: oneDNN (tensorflow) blocks its matmul sums by shape, so
    // entries near zero move by ~1e-7 absolute between chunk sizes.
    let diff = 0;
    let norm = 0;
    for (let k = 0; k < g.length; k++) {
      diff += ((c[k] as number) - (g[k] as number)) ** 2;
      norm += (g[k] as number) ** 2;
    }
    expect(Math.sqrt(diff / norm), full.names[i]).toBeLessThan(1e-5);
    compared++;
  });
  expect(compared).toBeGreaterThan(0);
}

describe('chunked causal-LM loss', () => {
  it('matches the full logits on a tied, frozen head (LoRA on every linear), chunks of 4 rows and one row', async () => {
    const peft = getPeftModel(
      await randomCausalLM('llama', { seed: 1, overrides: { tie_word_embeddings: true } }),
      loraConfig({ r: 4, loraAlpha: 8, targetModules: 'all-linear', loraDropout: 0, initLoraWeights: false }),
    );
    await expectSameAsUnchunked(peft, 4);
    await expectSameAsUnchunked(peft, 1);
    peft.dispose();
  });

  it('matches the full logits through final soft-capping (Gemma 3)', async () => {
    const peft = getPeftModel(
      await randomCausalLM('gemma3_text', { seed: 2, overrides: { final_logit_softcapping: 2 } }),
      loraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'down_proj'], loraDropout: 0, initLoraWeights: false }),
    );
    await expectSameAsUnchunked(peft, 5);
    peft.dispose();
  });

  it('matches the full logits with LoRA on an untied lm_head (recomputed in the backward pass)', async () => {
    const peft = getPeftModel(
      await randomCausalLM('llama', { seed: 3, overrides: { tie_word_embeddings: false } }),
      loraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'lm_head'], loraDropout: 0, initLoraWeights: false }),
    );
    expect(peft.lmHeadModule().get().trainableVariables()).toHaveLength(2);
    await expectSameAsUnchunked(peft, 7);
    peft.dispose();
  });

  it('gives the same loss without a tape (evaluation) and frees its tensors', async () => {
    const model = await randomCausalLM('llama', { seed: 4 });
    const { ids, labels } = batch(3, 9);
    const before = tf.memory().numTensors;
    const sums = [0, 4, 'auto' as const].map((chunkSize) =>
      tf.tidy(() => modelLossSum(model, tf.tensor2d(ids, [3, 9], 'int32'), labels, {}, { chunkSize }).sum),
    );
    const values = await Promise.all(sums.map(async (s) => (await s.data())[0] as number));
    tf.dispose(sums);
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.abs((values[1] as number) - (values[0] as number)) / (values[0] as number)).toBeLessThan(1e-6);
    expect(Math.abs((values[2] as number) - (values[0] as number)) / (values[0] as number)).toBeLessThan(1e-6);
    model.dispose();
  });

  it('refuses hidden states of the wrong width and a chunk size below 1', async () => {
    const model = await randomCausalLM('llama', { seed: 5 });
    const head = model.outputHead?.();
    expect(head).toBeDefined();
    const labels = new Int32Array(6).fill(5);
    const wrong = tf.zeros([2, 3, 7]) as tf.Tensor3D;
    const right = tf.zeros([2, 3, 32]) as tf.Tensor3D;
    expect(() => chunkedCausalLmLossSum(wrong, head as NonNullable<typeof head>, labels, 4)).toThrow(/lm_head takes 32/);
    expect(() => chunkedCausalLmLossSum(right, head as NonNullable<typeof head>, labels, 0)).toThrow(/chunkRows/);
    tf.dispose([wrong, right]);
    model.dispose();
  });
});
