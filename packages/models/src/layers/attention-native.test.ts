// lora_ops.node's LoraAttention / LoraAttentionGrad (through `groupedQueryAttention`, which takes
// them on the tensorflow backend) against attention written out in plain tfjs ops — scores,
// mask, softmax, product — and tfjs's own gradient of it. Runs under `pnpm test:tensorflow`.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ATTENTION, nativeKernel } from '../backend/native-kernel-names.js';
import { nativeOpsStatus } from '../backend/native-ops.js';
import { expectArraysClose, setupTestBackend } from '../test/index.js';
import { groupedQueryAttention, ropeAttention } from './attention.js';
import { applyRope, rotateHalfMatrix, ropeTablesForRange } from './rope.js';
import { attentionMask } from './masks.js';

const onTensorflow = process.env.LORA_TEST_BACKEND === 'tensorflow';
beforeAll(async () => {
  await setupTestBackend();
  if (onTensorflow && !nativeKernel(ATTENTION)) throw new Error(`lora_ops.node is not loaded: ${nativeOpsStatus()}`);
});

/** Attention in plain tfjs ops on the grouped layout: `q` `[B, KV, rep·T, D]`, `k`/`v` `[B, KV, S, D]`. */
function reference(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, t: number, scale: number, mask: tf.Tensor4D | undefined): tf.Tensor4D {
  const [b, kv, rows, d] = q.shape;
  const s = k.shape[2];
  const rep = rows / t;
  let scores = tf.reshape(tf.matMul(tf.mul(q, scale), k, false, true), [b, kv, rep, t, s]);
  if (mask !== undefined) scores = tf.add(scores, tf.reshape(mask, [mask.shape[0], 1, 1, t, s]));
  return tf.reshape(tf.matMul(tf.reshape(tf.softmax(scores, -1), [b, kv, rows, s]), v), [b, kv, rows, d]);
}

interface Case {
  name: string;
  b: number;
  kv: number;
  rep: number;
  t: number;
  s: number;
  d: number;
  mask: (b: number, t: number, s: number) => tf.Tensor4D | undefined;
  causal: boolean;
}

const cases: Case[] = [
  {
    // Several 64-row blocks and a partial one; the unpadded training case (causal key skipping).
    name: 'causal training input, 130 tokens, GQA rep 3, head_dim 8',
    b: 2,
    kv: 2,
    rep: 3,
    t: 130,
    s: 130,
    d: 8,
    mask: (b, t, s) => attentionMask({ batch: b, queryLength: t, keyLength: s, offset: s - t }),
    causal: true,
  },
  {
    // A prefill after cached tokens: query i sees keys up to S − T + i.
    name: 'causal queries after 7 cached keys, head_dim 64',
    b: 1,
    kv: 3,
    rep: 2,
    t: 5,
    s: 12,
    d: 64,
    mask: (b, t, s) => attentionMask({ batch: b, queryLength: t, keyLength: s, offset: s - t }),
    causal: true,
  },
  {
    // Left padding: per-row masks, and query rows whose keys are all padding (uniform softmax).
    name: 'left-padded batch with fully masked query rows (no key skipping)',
    b: 2,
    kv: 1,
    rep: 2,
    t: 70,
    s: 70,
    d: 16,
    mask: (b, t, s) =>
      attentionMask({
        batch: b,
        queryLength: t,
        keyLength: s,
        offset: 0,
        padding: [Array.from({ length: s }, (_, j) => (j < 9 ? 0 : 1)), Array.from({ length: s }, () => 1)],
      }),
    causal: false,
  },
  { name: 'no mask (every query sees every key)', b: 1, kv: 2, rep: 1, t: 6, s: 6, d: 8, mask: () => undefined, causal: false },
];

describe.skipIf(!onTensorflow)('LoraAttention / LoraAttentionGrad (LORA_TEST_BACKEND=tensorflow only)', () => {
  for (const c of cases) {
    it(`${c.name}: output and gradients equal tfjs ops to float32 rounding`, () => {
      const rows = c.rep * c.t;
      const q = tf.randomNormal([c.b, c.kv, rows, c.d], 0, 1, 'float32', 1) as tf.Tensor4D;
      const k = tf.randomNormal([c.b, c.kv, c.s, c.d], 0, 1, 'float32', 2) as tf.Tensor4D;
      const v = tf.randomNormal([c.b, c.kv, c.s, c.d], 0, 1, 'float32', 3) as tf.Tensor4D;
      const w = tf.randomNormal([c.b, c.kv, rows, c.d], 0, 1, 'float32', 4);
      const mask = c.mask(c.b, c.t, c.s);
      const scale = 1 / Math.sqrt(c.d);
      const options = { scale, mask, causal: c.causal };
      const tensorsBefore = tf.memory().numTensors;
      // No tape: the forward op alone.
      const out = groupedQueryAttention(q, k, v, c.t, options);
      const expected = tf.tidy(() => reference(q, k, v, c.t, scale, mask));
      expectArraysClose(out, expected, { rtol: 1e-5, atol: 2e-6 });
      // Under a tape: LoraAttentionGrad against tfjs's gradient of the reference.
      const loss = (f: (a: tf.Tensor4D, b: tf.Tensor4D, c: tf.Tensor4D) => tf.Tensor) => (a: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) =>
        tf.sum(tf.mul(f(a as tf.Tensor4D, bb as tf.Tensor4D, cc as tf.Tensor4D), w));
      const native = tf.grads(loss((a, b, cc) => groupedQueryAttention(a, b, cc, c.t, options)))([q, k, v]);
      const tfjs = tf.grads(loss((a, b, cc) => reference(a, b, cc, c.t, scale, mask)))([q, k, v]);
      for (let i = 0; i < 3; i++) expectArraysClose(native[i] as tf.Tensor, tfjs[i] as tf.Tensor, { rtol: 1e-4, atol: 1e-5 });
      tf.dispose([out, expected, ...native, ...tfjs]);
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      tf.dispose([q, k, v, w, mask as tf.Tensor]);
    });
  }

  for (const c of cases.filter((x) => x.s === x.t)) {
    it(`LoraRopeAttention, ${c.name}: rows in, rows out, rotation folded in; equals the tfjs layout + applyRope + attention, with gradients`, () => {
      const h = c.kv * c.rep;
      const q = tf.randomNormal([c.b * c.t, h * c.d], 0, 1, 'float32', 5) as tf.Tensor2D;
      const k = tf.randomNormal([c.b * c.t, c.kv * c.d], 0, 1, 'float32', 6) as tf.Tensor2D;
      const v = tf.randomNormal([c.b * c.t, c.kv * c.d], 0, 1, 'float32', 7) as tf.Tensor2D;
      const w = tf.randomNormal([c.b * c.t, h * c.d], 0, 1, 'float32', 8);
      const inv = tf.tensor1d(Array.from({ length: c.d / 2 }, (_, i) => 10000 ** (-(2 * i) / c.d)));
      const tables = ropeTablesForRange(inv, c.t);
      // Per batch row [B, 1, T, D], as DecoderContext gives them.
      const cos = tf.tile(tf.reshape(tables.cos, [1, 1, c.t, c.d]), [c.b, 1, 1, 1]) as tf.Tensor4D;
      const sin = tf.tile(tf.reshape(tables.sin, [1, 1, c.t, c.d]), [c.b, 1, 1, 1]) as tf.Tensor4D;
      const rotate = rotateHalfMatrix(c.d);
      const mask = c.mask(c.b, c.t, c.s);
      const scale = 1 / Math.sqrt(c.d);
      const options = { scale, mask, causal: c.causal };
      const tfjsPath = (qy: tf.Tensor, ky: tf.Tensor, vy: tf.Tensor) => {
        const headsOf = (y: tf.Tensor, n: number) => tf.transpose(tf.reshape(y, [c.b, c.t, n, c.d]), [0, 2, 1, 3]) as tf.Tensor4D;
        const qh = applyRope(headsOf(qy, h), cos, sin, rotate);
        const kh = applyRope(headsOf(ky, c.kv), cos, sin, rotate);
        const out = reference(tf.reshape(qh, [c.b, c.kv, c.rep * c.t, c.d]), kh, headsOf(vy, c.kv), c.t, scale, mask);
        return tf.reshape(tf.transpose(tf.reshape(out, [c.b, h, c.t, c.d]), [0, 2, 1, 3]), [c.b * c.t, h * c.d]);
      };
      const fusedPath = (qy: tf.Tensor, ky: tf.Tensor, vy: tf.Tensor) =>
        ropeAttention(
          { q: qy as tf.Tensor2D, k: ky as tf.Tensor2D, v: vy as tf.Tensor2D, cos, sin, heads: h, kvHeads: c.kv, queryLength: c.t },
          options,
        ) as tf.Tensor2D;
      const tensorsBefore = tf.memory().numTensors;
      const out = fusedPath(q, k, v);
      expect(out.shape).toEqual([c.b * c.t, h * c.d]);
      const expected = tf.tidy(() => tfjsPath(q, k, v));
      expectArraysClose(out, expected, { rtol: 1e-5, atol: 2e-6 });
      const loss = (f: typeof tfjsPath) => (a: tf.Tensor, bb: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(f(a, bb, cc), w));
      const native = tf.grads(loss(fusedPath))([q, k, v]);
      const tfjs = tf.grads(loss(tfjsPath))([q, k, v]);
      for (let i = 0; i < 3; i++) expectArraysClose(native[i] as tf.Tensor, tfjs[i] as tf.Tensor, { rtol: 1e-4, atol: 1e-5 });
      tf.dispose([out, expected, ...native, ...tfjs]);
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      tf.dispose([q, k, v, w, inv, tables.cos, tables.sin, cos, sin, rotate, mask as tf.Tensor]);
    });
  }

  it('names the mismatched mask and query length', () => {
    const q = tf.zeros([1, 1, 4, 8]);
    const k = tf.zeros([1, 1, 4, 8]);
    const attrs = { scale: 1, queryLength: 4, hasMask: true, causal: false };
    expect(() => tf.engine().runKernel(ATTENTION, { q, k, v: k, mask: tf.zeros([1, 1, 4, 5]) }, attrs)).toThrow(
      /mask must be \[1 or 1, 1, 4, 4\]/,
    );
    expect(() => tf.engine().runKernel(ATTENTION, { q, k, v: k }, { ...attrs, hasMask: false, queryLength: 3 })).toThrow(/query_length 3/);
    tf.dispose([q, k]);
  });
});
