import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { expectTensorsClose, setupTestBackend } from '@lora/models/test';
import { beforeAll, describe, expect, it } from 'vitest';
import { allFinite, clipGradNorm, clipGradNormOnDevice } from './clip-grad-norm.js';

// fixtures/train/clip.json: torch.nn.utils.clip_grad_norm_ (tools/parity/train/make_train_fixtures.py).
const fixture = JSON.parse(readFileSync(new URL('../../../fixtures/train/clip.json', import.meta.url), 'utf8')) as {
  cases: { maxNorm: number; shapes: number[][]; grads: number[][]; totalNorm: number; clipped: number[][] }[];
};

beforeAll(async () => {
  await setupTestBackend();
});

describe('clipGradNorm', () => {
  fixture.cases.forEach((c, index) => {
    it(`matches clip_grad_norm_ (max ${c.maxNorm}, case ${index})`, async () => {
      const grads = Object.fromEntries(c.grads.map((g, i) => [`g${i}`, tf.tensor(g, c.shapes[i])]));
      const before = tf.memory().numTensors;
      const result = await clipGradNorm(grads, c.maxNorm);
      expect(Math.abs(result.norm - c.totalNorm) / c.totalNorm).toBeLessThan(1e-6);
      for (const [i, expected] of c.clipped.entries())
        await expectTensorsClose(result.grads[`g${i}`] as tf.Tensor, expected, { rtol: 1e-6, atol: 1e-9 });
      expect(tf.memory().numTensors - before).toBe(result.clipped ? c.grads.length : 0);
      tf.dispose([...Object.values(grads), ...Object.values(result.grads)]);
    });

    it(`clipGradNormOnDevice matches clip_grad_norm_ without a read (max ${c.maxNorm}, case ${index})`, async () => {
      const grads = Object.fromEntries(c.grads.map((g, i) => [`g${i}`, tf.tensor(g, c.shapes[i])]));
      const before = tf.memory().numTensors;
      const result = clipGradNormOnDevice(grads, c.maxNorm);
      expect(tf.memory().numTensors - before).toBe(c.grads.length + 1);
      const norm = (await result.norm.data())[0] as number;
      expect(Math.abs(norm - c.totalNorm) / c.totalNorm).toBeLessThan(1e-6);
      for (const [i, expected] of c.clipped.entries())
        await expectTensorsClose(result.grads[`g${i}`] as tf.Tensor, expected, { rtol: 1e-6, atol: 1e-9 });
      tf.dispose([...Object.values(grads), ...Object.values(result.grads), result.norm]);
      expect(tf.memory().numTensors).toBe(before - c.grads.length);
    });
  });

  it('clipGradNormOnDevice with maxNorm 0 only measures: the gradients come back as they are', async () => {
    const c = fixture.cases[0];
    if (c === undefined) throw new Error('fixtures/train/clip.json has no case');
    const grads = Object.fromEntries(c.grads.map((g, i) => [`g${i}`, tf.tensor(g, c.shapes[i])]));
    const result = clipGradNormOnDevice(grads, 0);
    for (const [name, g] of Object.entries(grads)) expect(result.grads[name]).toBe(g);
    const norm = (await result.norm.data())[0] as number;
    expect(Math.abs(norm - c.totalNorm) / c.totalNorm).toBeLessThan(1e-6);
    tf.dispose([result.norm, ...Object.values(grads)]);
  });

  it('reports non-finite gradients and leaves them unscaled', async () => {
    const grads = { a: tf.tensor1d([1, Number.NaN]), b: tf.tensor1d([2]) };
    expect(await allFinite(grads)).toBe(false);
    const result = await clipGradNorm(grads, 1);
    expect(Number.isNaN(result.norm)).toBe(true);
    expect(result.clipped).toBe(false);
    const device = clipGradNormOnDevice(grads, 1);
    expect(Number.isNaN((await device.norm.data())[0])).toBe(true);
    tf.dispose([device.norm, ...Object.values(device.grads)]);
    const inf = tf.tensor1d([Number.POSITIVE_INFINITY]);
    expect(await allFinite({ c: inf })).toBe(false);
    expect(await allFinite({ b: grads.b })).toBe(true);
    tf.dispose([inf, ...Object.values(grads)]);
  });
});
