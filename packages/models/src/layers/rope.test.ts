import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectTensorsClose, setupTestBackend } from '../test/index.js';
import { applyRope, ropeTablesForRange, rotateHalfMatrix } from './rope.js';

beforeAll(async () => {
  await setupTestBackend();
});

/** transformers' `q * cos + rotate_half(q) * sin` with `rotate_half(x) = cat(-x2, x1)`, tables from position ids. */
function reference(x: tf.Tensor4D, invFreq: tf.Tensor1D, positions: number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const freqs = tf.mul(tf.reshape(tf.tensor1d(positions, 'float32'), [-1, 1]), tf.reshape(invFreq, [1, -1]));
    const emb = tf.reshape(tf.concat([freqs, freqs], -1), [1, 1, positions.length, -1]);
    const half = x.shape[3] / 2;
    const [x1, x2] = tf.split(x, [half, half], -1);
    return tf.add(tf.mul(x, tf.cos(emb)), tf.mul(tf.concat([tf.neg(x2 as tf.Tensor), x1 as tf.Tensor], -1), tf.sin(emb)));
  });
}

describe('applyRope', () => {
  it.each([1, 3, 20])('equals the rotate_half formula bit for bit (T = %i), with and without a gradient tape', async (t) => {
    const d = 16;
    const invFreq = tf.tensor1d(Float32Array.from({ length: d / 2 }, (_, i) => Math.fround(1 / 10000 ** ((2 * i) / d))));
    const positions = Array.from({ length: t }, (_, i) => 5 + 3 * i);
    const x = tf.randomNormal([2, 3, t, d], 0, 1, 'float32', 7) as tf.Tensor4D;
    const tables = ropeTablesForRange(invFreq, 128);
    const idx = tf.tensor1d(positions, 'int32');
    const cos = tf.reshape(tf.gather(tables.cos, idx), [1, 1, t, d]) as tf.Tensor4D;
    const sin = tf.reshape(tf.gather(tables.sin, idx), [1, 1, t, d]) as tf.Tensor4D;
    const rotate = rotateHalfMatrix(d);
    const expected = reference(x, invFreq, positions);
    const inference = applyRope(x, cos, sin, rotate);
    await expectTensorsClose(inference, expected, { rtol: 0, atol: 0 });
    // Under a tape the roll is a custom-gradient matmul: same values, and the gradient of Σ w·rope(x).
    const w = tf.randomNormal(x.shape, 0, 1, 'float32', 8);
    const [grad] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(applyRope(a as tf.Tensor4D, cos, sin, rotate), w)))([x]);
    const [refGrad] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(reference(a as tf.Tensor4D, invFreq, positions), w)))([x]);
    expect(grad?.shape).toEqual(x.shape);
    await expectTensorsClose(grad as tf.Tensor, refGrad as tf.Tensor, { rtol: 1e-6, atol: 1e-6 });
    tf.dispose([
      invFreq,
      x,
      tables.cos,
      tables.sin,
      idx,
      cos,
      sin,
      rotate,
      expected,
      inference,
      w,
      grad as tf.Tensor,
      refGrad as tf.Tensor,
    ]);
  });
});
