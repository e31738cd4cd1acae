import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectArraysClose, setupTestBackend } from '../test/index.js';
import { Linear } from './linear.js';
import { GatedMLP, activation } from './mlp.js';

beforeAll(async () => {
  await setupTestBackend();
});

describe('GatedMLP (silu)', () => {
  it("hand-written silu-gate gradient (inputs saved, silu recomputed) equals tfjs' chain rule", async () => {
    const w = (i: number, o: number, seed: number) => tf.randomNormal([i, o], 0, 0.3, 'float32', seed) as tf.Tensor2D;
    const [gate, up, down] = [new Linear(w(8, 12, 1)), new Linear(w(8, 12, 2)), new Linear(w(12, 8, 3))];
    const mlp = new GatedMLP(gate, up, down, 'silu');
    const x = tf.randomNormal([5, 8], 0, 1, 'float32', 4);
    const before = tf.memory().numTensors;
    const ours = tf.grad((v: tf.Tensor) => tf.sum(tf.square(mlp.apply(v))))(x);
    const chain = tf.grad((v: tf.Tensor) =>
      tf.sum(tf.square(tf.matMul(tf.mul(activation('silu', tf.matMul(v, gate.weight)), tf.matMul(v, up.weight)), down.weight))),
    )(x);
    expectArraysClose(await ours.data(), await chain.data(), { rtol: 1e-5, atol: 1e-6 });
    tf.dispose([ours, chain]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
    mlp.dispose();
  });
});
