import * as tf from '@tensorflow/tfjs';
import { setupTestBackend } from '@lora/models/test';
import { beforeAll, describe, expect, it } from 'vitest';
import { enableGradientCheckpointing } from './gradient-checkpointing.js';
import { causalLmLoss } from './loss.js';
import { namedParameters } from './parameters.js';
import { randomBatches, tinyTrainableModel } from './test/tiny.js';
import { train } from './train.js';

beforeAll(async () => {
  await setupTestBackend();
});

describe('gradient checkpointing', () => {
  it('gives the same gradients with less activation memory', async () => {
    const model = await tinyTrainableModel({ num_hidden_layers: 4, hidden_size: 64, intermediate_size: 128, vocab_size: 64 });
    const [batch] = randomBatches(1, 4, 48);
    if (batch === undefined) throw new Error('no batch');
    const variables = [...namedParameters(model).values()];
    const step = () =>
      tf.variableGrads(() => causalLmLoss(model.forward(tf.tensor2d(batch.inputIds, [...batch.shape], 'int32')), batch.labels), variables);
    const measure = async () => {
      let grads: Record<string, Float32Array> = {};
      let loss = 0;
      const info = await tf.profile(async () => {
        const r = step();
        loss = (await r.value.data())[0] as number;
        const entries = Object.entries(r.grads);
        const values = await Promise.all(entries.map(([, g]) => g.data() as Promise<Float32Array>));
        grads = Object.fromEntries(entries.map(([k], i) => [k, values[i] as Float32Array]));
        tf.dispose([r.value, ...Object.values(r.grads)]);
      });
      return { loss, grads, peak: info.peakBytes - tf.memory().numBytes };
    };
    const plain = await measure();
    const before = tf.memory().numTensors;
    const off = enableGradientCheckpointing(model);
    const checkpointed = await measure();
    off();
    expect(tf.memory().numTensors).toBe(before);
    expect(checkpointed.loss).toBe(plain.loss);
    for (const [k, g] of Object.entries(plain.grads)) {
      const h = checkpointed.grads[k] as Float32Array;
      let worst = 0;
      for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs((g[i] as number) - (h[i] as number)));
      expect(worst).toBeLessThan(1e-6);
    }
    const saved = 1 - checkpointed.peak / plain.peak;
    console.log(
      `gradient checkpointing: peak step memory ${(plain.peak / 1e6).toFixed(2)} MB → ${(checkpointed.peak / 1e6).toFixed(2)} MB (${(saved * 100).toFixed(0)}% less), 4 layers, batch 4×48`,
    );
    expect(checkpointed.peak).toBeLessThan(plain.peak * 0.8);
    // Off again: the plain path is back.
    const again = await measure();
    expect(again.peak).toBe(plain.peak);
    model.dispose();
  });

  it('train({ gradientCheckpointing: true }) follows the same loss trajectory and restores the layers', async () => {
    const data = randomBatches(2, 2, 16);
    const args = { maxSteps: 3, learningRate: 1e-2 };
    const a = await tinyTrainableModel();
    const plain = await train({ model: a, data, args });
    const b = await tinyTrainableModel();
    const checkpointed = await train({ model: b, data, args: { ...args, gradientCheckpointing: true } });
    expect(checkpointed.losses).toEqual(plain.losses);
    expect(Object.prototype.hasOwnProperty.call((b as unknown as { layers: object[] }).layers[0], 'apply')).toBe(false);
    a.dispose();
    b.dispose();
  });
});
