import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomCausalLM, setupTestBackend } from '../test/index.js';
import { variableGradsLean } from './lean-grads.js';
import { Linear } from './linear.js';
import { addSameShape } from './tape.js';

beforeAll(async () => {
  await setupTestBackend();
});

async function values(map: tf.NamedTensorMap): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(map)) if (t !== null) out[name] = Array.from(await t.data());
  return out;
}

// Same ops in the same order as tfjs' own walk: the gradients must be equal bit for bit.
async function expectSameAsTfjs(f: () => tf.Scalar, vars: tf.Variable[]): Promise<void> {
  const before = tf.memory().numTensors;
  const ref = tf.variableGrads(f, vars);
  const refValues = await values(ref.grads);
  const refLoss = (await ref.value.data())[0];
  tf.dispose([ref.value, ...Object.values(ref.grads).filter((g) => g !== null)]);
  expect(tf.memory().numTensors).toBe(before);

  const lean = variableGradsLean(f, vars);
  // Only the value and the gradients survive the call: every saved tensor and intermediate gradient is freed.
  expect(tf.memory().numTensors).toBe(before + 1 + Object.values(lean.grads).filter((g) => g !== null).length);
  expect(Object.keys(lean.grads).sort()).toEqual(Object.keys(ref.grads).sort());
  expect(await values(lean.grads)).toEqual(refValues);
  expect((await lean.value.data())[0]).toBe(refLoss);
  tf.dispose([lean.value, ...Object.values(lean.grads).filter((g) => g !== null)]);
  expect(tf.memory().numTensors).toBe(before);
}

describe('variableGradsLean', () => {
  it('equals tf.variableGrads on shared uses, identity gradients, clones, customGrads and an unconnected variable', async () => {
    const a = tf.variable(tf.tensor2d([0.3, -1.2, 0.7, 2.1, 0.05, -0.4], [2, 3]), true, 'lean-a');
    const b = tf.variable(tf.tensor2d([1.5, -0.2, 0.9, 0.1, -0.8, 0.6], [3, 2]), true, 'lean-b');
    const unused = tf.variable(tf.scalar(3), true, 'lean-unused');
    const frozen = tf.variable(tf.scalar(2), false, 'lean-frozen');
    const passThrough = tf.customGrad(((x: tf.Tensor) => ({
      value: tf.clone(x),
      gradFunc: (dy: tf.Tensor) => dy,
    })) as never) as unknown as (x: tf.Tensor) => tf.Tensor;
    const f = () =>
      tf.tidy(() => {
        const h = tf.matMul(a, b); // [2, 2]
        const r = addSameShape(h, tf.relu(h)); // the same tensor reaches the loss twice
        const c = passThrough(tf.clone(r)); // gradients returned as the incoming dy itself
        const s = tf.add(tf.sum(tf.mul(c, c)), tf.mul(tf.sum(a), frozen));
        return tf.add(s, tf.sum(tf.tanh(tf.matMul(b, a)))) as tf.Scalar;
      });
    await expectSameAsTfjs(f, [a, b, unused, frozen]);
    tf.dispose([a, b, unused, frozen]);
  });

  it('equals tf.variableGrads through a whole decoder with trainable linears', async () => {
    const model = await randomCausalLM('llama', { seed: 3 });
    const slots = (model as unknown as { linearModules(): Array<{ get(): Linear; set(l: Linear): void }> }).linearModules();
    for (const slot of slots) {
      const old = slot.get();
      slot.set(new Linear(old.denseWeight(), { trainable: true, name: `lean-${slots.indexOf(slot)}` }));
      old.dispose();
    }
    const vars = model.trainableVariables();
    expect(vars.length).toBeGreaterThan(0);
    const ids = tf.tensor2d(
      [
        [1, 5, 9, 2, 7, 3],
        [4, 4, 8, 1, 0, 6],
      ],
      [2, 6],
      'int32',
    );
    const f = () => tf.tidy(() => tf.mean(tf.square(model.forward(ids))) as tf.Scalar);
    await expectSameAsTfjs(f, vars);
    ids.dispose();
    model.dispose();
  });

  it('peaks lower than tf.variableGrads on a deep chain', async () => {
    const w = tf.variable(tf.randomNormal([64, 64], 0, 0.1, 'float32', 1), true, 'lean-deep');
    const x = tf.randomNormal([256, 64], 0, 1, 'float32', 2);
    const f = () =>
      tf.tidy(() => {
        let h: tf.Tensor = x;
        for (let i = 0; i < 24; i++) h = tf.tidy(() => tf.tanh(tf.matMul(h as tf.Tensor2D, w))); // a layer: only saved tensors outlive it
        return tf.sum(h) as tf.Scalar;
      });
    const peak = async (grads: typeof variableGradsLean) =>
      (
        await tf.profile(() => {
          const { value, grads: g } = grads(f, [w]);
          tf.dispose([value, ...Object.values(g)]);
          return tf.scalar(0);
        })
      ).peakBytes;
    const tfjsPeak = await peak(tf.variableGrads as typeof variableGradsLean);
    const leanPeak = await peak(variableGradsLean);
    // tfjs keeps 24 saved activations plus every intermediate gradient to the end; the lean walk frees them as it goes.
    expect(leanPeak).toBeLessThan(0.8 * tfjsPeak);
    tf.dispose([w, x]);
  });

  it('keeps only the shape of a Reshape input and still equals tf.variableGrads', async () => {
    const w = tf.variable(tf.randomNormal([64, 64], 0, 0.1, 'float32', 4), true, 'lean-reshape-w');
    const x = tf.randomNormal([8, 64], 0, 1, 'float32', 5);
    const f = (): tf.Scalar => {
      let h: tf.Tensor = x;
      for (let i = 0; i < 6; i++) h = tf.reshape(tf.exp(tf.matMul(tf.reshape(h, [8, 64]), w)), [2, 4, 64]);
      return tf.sum(h);
    };
    await expectSameAsTfjs(f, [w]);
    tf.dispose([w, x]);
  });

  it('falls back to tf.variableGrads inside an outer gradient (higher order)', async () => {
    const v = tf.variable(tf.scalar(1.5), true, 'lean-outer');
    const dOuter = tf.grad((x: tf.Tensor) => {
      const { value, grads } = variableGradsLean(() => tf.mul(tf.mul(v, v), x) as tf.Scalar, [v]);
      tf.dispose(Object.values(grads));
      return value;
    });
    const g = dOuter(tf.scalar(2));
    expect((await g.data())[0]).toBeCloseTo(2.25, 6);
    tf.dispose([g, v]);
  });
});
