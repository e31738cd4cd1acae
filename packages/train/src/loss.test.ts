import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { expectTensorsClose, setupTestBackend } from '@lora/models/test';
import { beforeAll, describe, expect, it } from 'vitest';
import { causalLmLoss, causalLmLossSum, countTrainedTokens } from './loss.js';

// fixtures/train/loss.json: transformers ForCausalLMLoss (tools/parity/train/make_train_fixtures.py).
const fixture = JSON.parse(readFileSync(new URL('../../../fixtures/train/loss.json', import.meta.url), 'utf8')) as {
  shape: [number, number, number];
  logits: number[];
  labels: number[];
  meanLoss: number;
  sumLoss: number;
  count: number;
  grad: number[];
};

beforeAll(async () => {
  await setupTestBackend();
});

describe('causal LM loss', () => {
  const [b, t, v] = fixture.shape;
  const labels = Int32Array.from(fixture.labels);

  it('matches transformers ForCausalLMLoss (mean, sum, count)', async () => {
    const logits = tf.tensor3d(fixture.logits, [b, t, v]);
    const mean = causalLmLoss(logits, labels);
    await expectTensorsClose(mean, [fixture.meanLoss], { rtol: 1e-6 });
    const { sum, count } = causalLmLossSum(logits, labels);
    expect(count).toBe(fixture.count);
    expect(countTrainedTokens(labels, [b, t])).toBe(fixture.count);
    await expectTensorsClose(sum, [fixture.sumLoss], { rtol: 1e-6 });
    tf.dispose([logits, mean, sum]);
  });

  it('has the reference gradient under tf.variableGrads (no gather gradient needed)', async () => {
    const logits = tf.variable(tf.tensor3d(fixture.logits, [b, t, v]));
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => causalLmLoss(logits, labels), [logits]);
    await expectTensorsClose(grads[logits.name] as tf.Tensor, fixture.grad, { rtol: 1e-5, atol: 1e-7 });
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    logits.dispose();
  });

  it('is 0 with a zero gradient when no token is trained, and rejects bad labels', async () => {
    const logits = tf.variable(tf.randomNormal([1, 3, 5]) as tf.Tensor3D);
    const { value, grads } = tf.variableGrads(() => causalLmLoss(logits, new Int32Array([-100, -100, -100])), [logits]);
    expect(Math.abs((await value.data())[0] as number)).toBe(0);
    const absGrad = tf.abs(grads[logits.name] as tf.Tensor);
    expect(Math.max(...(await absGrad.data()))).toBe(0);
    absGrad.dispose();
    expect(() => causalLmLossSum(logits, new Int32Array([0, 7, 1]))).toThrow(/outside the vocabulary/);
    expect(() => causalLmLossSum(logits, new Int32Array([0, 1]))).toThrow(/labels/);
    tf.dispose([value, ...Object.values(grads), logits]);
  });
});
