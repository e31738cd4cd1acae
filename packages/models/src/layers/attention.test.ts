import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectTensorsClose, setupTestBackend } from '../test/index.js';
import { scaledDotProductAttention } from './attention.js';
import { attentionMask } from './masks.js';

beforeAll(async () => {
  await setupTestBackend();
});

/** The textbook formula with tfjs' own ops and default gradients (repeat_kv by gather-free tiling). */
function reference(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, scale: number, mask: tf.Tensor4D | undefined): tf.Tensor4D {
  const [b, h, , d] = q.shape;
  const [, kv, s] = k.shape;
  const rep = h / kv;
  const expand = (x: tf.Tensor4D) => tf.reshape(tf.tile(tf.reshape(x, [b * kv, 1, s * d]), [1, rep, 1]), [b, h, s, d]) as tf.Tensor4D;
  let scores = tf.mul(tf.matMul(q, expand(k), false, true), scale);
  if (mask !== undefined) scores = tf.add(scores, mask);
  return tf.matMul(tf.softmax(scores, -1), expand(v));
}

describe('scaledDotProductAttention', () => {
  // T = 12 rows per group takes the per-group 2-D path (with its hand-written gradient); T = 1 the batched one.
  it.each([
    { name: 'prefill/training, causal + padding, GQA', b: 2, h: 4, kv: 2, t: 12, offset: 0, padded: true },
    { name: 'prefill, causal only, MHA', b: 1, h: 2, kv: 2, t: 10, offset: 0, padded: false },
    { name: 'decode step with cache', b: 2, h: 4, kv: 2, t: 1, offset: 7, padded: true },
    // causal, unpadded and T ≥ 128: two query blocks on backends with fast batched matmuls (odd T, cache offset).
    { name: 'training, causal query blocks, GQA', b: 2, h: 4, kv: 2, t: 131, offset: 0, padded: false, causal: true },
    { name: 'causal query blocks after a cache offset', b: 1, h: 2, kv: 1, t: 128, offset: 5, padded: false, causal: true },
  ])('$name: output and gradients equal the reference formula', async ({ b, h, kv, t, offset, padded, causal }) => {
    const d = 8;
    const s = offset + t;
    const q = tf.randomNormal([b, h, t, d], 0, 1, 'float32', 1) as tf.Tensor4D;
    const k = tf.randomNormal([b, kv, s, d], 0, 1, 'float32', 2) as tf.Tensor4D;
    const v = tf.randomNormal([b, kv, s, d], 0, 1, 'float32', 3) as tf.Tensor4D;
    const weights = tf.randomNormal([b, h, t, d], 0, 1, 'float32', 4);
    const padding = padded ? Array.from({ length: b }, (_, i) => Array.from({ length: s }, (_, j) => (j < i * 3 ? 0 : 1))) : undefined;
    const mask = attentionMask({ batch: b, queryLength: t, keyLength: s, offset, padding });
    const scale = 1 / Math.sqrt(d);
    const ours = tf.grads((a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) =>
      tf.sum(tf.mul(scaledDotProductAttention(a as tf.Tensor4D, c as tf.Tensor4D, e as tf.Tensor4D, { scale, mask, causal }), weights)),
    )([q, k, v]);
    const ref = tf.grads((a: tf.Tensor, c: tf.Tensor, e: tf.Tensor) =>
      tf.sum(tf.mul(reference(a as tf.Tensor4D, c as tf.Tensor4D, e as tf.Tensor4D, scale, mask), weights)),
    )([q, k, v]);
    await expectTensorsClose(scaledDotProductAttention(q, k, v, { scale, mask, causal }), reference(q, k, v, scale, mask), {
      rtol: 1e-5,
      atol: 1e-5,
    });
    for (const [i, g] of ours.entries()) {
      expect(g.shape).toEqual([q, k, v][i]?.shape);
      await expectTensorsClose(g, ref[i] as tf.Tensor, { rtol: 1e-4, atol: 1e-5 });
    }
    tf.dispose([q, k, v, weights, ...ours, ...ref]);
    mask?.dispose();
  });

  it('leaves no tensors behind in inference and under a gradient tape', () => {
    const q = tf.randomNormal([1, 2, 16, 8]) as tf.Tensor4D;
    const kv = tf.randomNormal([1, 2, 16, 8]) as tf.Tensor4D;
    const mask = attentionMask({ batch: 1, queryLength: 16, keyLength: 16, offset: 0 });
    const before = tf.memory().numTensors;
    scaledDotProductAttention(q, kv, kv, { scale: 0.3, mask }).dispose();
    tf.grads((a: tf.Tensor) => tf.sum(scaledDotProductAttention(a as tf.Tensor4D, kv, kv, { scale: 0.3, mask })))([q]).forEach((g) =>
      g.dispose(),
    );
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([q, kv, mask as tf.Tensor]);
  });
});
