import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { expectArraysClose, setupTestBackend } from '@lora/models/test';
import { beforeAll, describe, expect, it } from 'vitest';
import { allFinite, clipGradNorm } from './clip-grad-norm.js';

// fixtures/train/clip.json: torch.nn.utils.clip_grad_norm_ (tools/parity/train/make_train_fixtures.py).
const fixture = JSON.parse(readFileSync(new URL('../../../fixtures/train/clip.json', import.meta.url), 'utf8')) as {
  cases: { maxNorm: number; shapes: number[][]; grads: number[][]; totalNorm: number; clipped: number[][] }[];
};

beforeAll(async () => {
  await setupTestBackend();
});

describe('clipGradNorm', () => {
  fixture.cases.forEach((c, index) => {
    it(`matches clip_grad_norm_ (max ${c.maxNorm}, case ${index})`, () => {
      const grads = Object.fromEntries(c.grads.map((g, i) => [`g${i}`, tf.tensor(g, c.shapes[i])]));
      const before = tf.memory().numTensors;
      const result = clipGradNorm(grads, c.maxNorm);
      expect(Math.abs(result.norm - c.totalNorm) / c.totalNorm).toBeLessThan(1e-6);
      c.clipped.forEach((expected, i) => expectArraysClose(result.grads[`g${i}`] as tf.Tensor, expected, { rtol: 1e-6, atol: 1e-9 }));
      expect(tf.memory().numTensors - before).toBe(result.clipped ? c.grads.length : 0);
      tf.dispose([...Object.values(grads), ...Object.values(result.grads)]);
    });
  });

  it('reports non-finite gradients and leaves them unscaled', () => {
    const grads = { a: tf.tensor1d([1, Number.NaN]), b: tf.tensor1d([2]) };
    expect(allFinite(grads)).toBe(false);
    const result = clipGradNorm(grads, 1);
    expect(Number.isNaN(result.norm)).toBe(true);
    expect(result.clipped).toBe(false);
    expect(allFinite({ c: tf.tensor1d([Number.POSITIVE_INFINITY]) })).toBe(false);
    expect(allFinite({ b: grads.b })).toBe(true);
    tf.dispose(Object.values(grads));
  });
});
