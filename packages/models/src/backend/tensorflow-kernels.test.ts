import * as tf from '@tensorflow/tfjs';
import { Rng } from '@lora/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectArraysClose, setupTestBackend } from '../test/index.js';
import { installTensorflowKernels, SMALL_BATCHED_ROWS, tensorflowMatMulOp } from './tensorflow-kernels.js';

let backend: string;
beforeAll(async () => {
  backend = await setupTestBackend();
});

describe('tensorflowMatMulOp', () => {
  it('routes 2-D products to MatMul (x·Wᵀ to BatchMatMulV2), small batched ones to BatchMatMulV3, the rest to BatchMatMulV2', () => {
    expect(tensorflowMatMulOp([1, 512], [512, 512], false).op).toBe('MatMul');
    expect(tensorflowMatMulOp([4096, 512], [512, 512], true).op).toBe('MatMul');
    expect(tensorflowMatMulOp([4096, 512], [512, 512], true, true).op).toBe('MatMul');
    expect(tensorflowMatMulOp([42, 49152], [576, 49152], false, true)).toEqual({ op: 'BatchMatMulV2', flags: ['adj_x', 'adj_y'] });
    expect(tensorflowMatMulOp([1, 8, 1, 64], [1, 8, 53, 64], false).op).toBe('BatchMatMulV3');
    expect(tensorflowMatMulOp([2, 64, SMALL_BATCHED_ROWS + 1], [2, 64, 8], true).op).toBe('BatchMatMulV2');
    expect(tensorflowMatMulOp([2, SMALL_BATCHED_ROWS + 1, 64], [64, 8], false).op).toBe('BatchMatMulV2');
  });
});

/** Row-major reference product of `a` [batch..., m, k] (or transposed) and `b` with batch broadcasting. */
function reference(
  a: tf.Tensor,
  b: tf.Tensor,
  ta: boolean,
  tb: boolean,
  av: Float32Array,
  bv: Float32Array,
): { shape: number[]; values: Float64Array } {
  const as = a.shape,
    bs = b.shape;
  const [am, ak] = ta
    ? [as[as.length - 1] as number, as[as.length - 2] as number]
    : [as[as.length - 2] as number, as[as.length - 1] as number];
  const bn = tb ? (bs[bs.length - 2] as number) : (bs[bs.length - 1] as number);
  const aBatch = as.slice(0, -2),
    bBatch = bs.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const pad = (s: number[]) => [...new Array<number>(rank - s.length).fill(1), ...s];
  const pa = pad(aBatch),
    pb = pad(bBatch);
  const batch = pa.map((d, i) => Math.max(d, pb[i] as number));
  const count = batch.reduce((x, y) => x * y, 1);
  const values = new Float64Array(count * am * bn);
  const index = (dims: number[], flat: number) => {
    let off = 0,
      stride = 1,
      f = flat;
    const coords = batch.map((d) => 0 * d);
    for (let i = batch.length - 1; i >= 0; i--) {
      coords[i] = f % (batch[i] as number);
      f = Math.floor(f / (batch[i] as number));
    }
    for (let i = dims.length - 1; i >= 0; i--) {
      off += ((dims[i] as number) === 1 ? 0 : (coords[i] as number)) * stride;
      stride *= dims[i] as number;
    }
    return off;
  };
  for (let n = 0; n < count; n++) {
    const ao = index(pa, n) * am * ak,
      bo = index(pb, n) * ak * bn;
    for (let i = 0; i < am; i++)
      for (let j = 0; j < bn; j++) {
        let s = 0;
        for (let k = 0; k < ak; k++) {
          const x = av[ao + (ta ? k * am + i : i * ak + k)] as number;
          const y = bv[bo + (tb ? j * ak + k : k * bn + j)] as number;
          s += x * y;
        }
        values[n * am * bn + i * bn + j] = s;
      }
  }
  return { shape: [...batch, am, bn], values };
}

// On the tensorflow backend these run through the routed kernel (the backward matmuls of every
// training test on that backend do too); elsewhere they pin the same semantics on the stock kernels.
describe('matmul kernel (routed on tensorflow)', () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[1, 48], [48, 40], false, false],
    [[3, 48], [40, 48], false, true], // x·Wᵀ (BatchMatMulV2 with adj_y)
    [[4, 3000], [6, 3000], false, true], // a long contraction, as the chunked loss's hidden-state gradient
    [[48, 5], [48, 40], true, false],
    [[40, 6], [7, 40], true, true],
    [[2, 3, 1, 16], [2, 3, 9, 16], false, true], // a decode step's scores (BatchMatMulV3)
    [[2, 1, 9], [1, 9, 16], false, false], // broadcast batch
    [[2, 70, 16], [2, 16, 12], false, false], // > SMALL_BATCHED_ROWS (BatchMatMulV2)
    [[2, 16, 70], [16, 12], true, false],
  ];
  it.each(cases)('a %j × b %j (transposeA %s, transposeB %s) equals the float64 product; no leaks', async (aShape, bShape, ta, tb) => {
    if (backend === 'tensorflow') expect(installTensorflowKernels()).toBe(true);
    const rng = new Rng(aShape.length * 100 + bShape[0]!);
    const av = Float32Array.from({ length: aShape.reduce((x, y) => x * y, 1) }, () => rng.normal());
    const bv = Float32Array.from({ length: bShape.reduce((x, y) => x * y, 1) }, () => rng.normal());
    const a = tf.tensor(av, aShape);
    const b = tf.tensor(bv, bShape);
    const before = tf.memory().numTensors;
    const y = tf.matMul(a, b, ta, tb);
    const ref = reference(a, b, ta, tb, av, bv);
    expect(y.shape).toEqual(ref.shape);
    expectArraysClose(await y.data(), ref.values, { rtol: 1e-5, atol: 1e-5 });
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });
});

// The argument-caching kernels (Reshape, Transpose, Mean, Sum, Concat, Cast) on tensorflow; the
// same expectations hold for the stock kernels elsewhere.
describe('shape and reduction kernels (cached arguments on tensorflow)', () => {
  const x = () =>
    tf.tensor3d(
      Float32Array.from({ length: 24 }, (_, i) => (i % 7) - 2.5),
      [2, 3, 4],
    );

  it('reshape, transpose, mean, sum, concat and cast give the host-computed values; nothing leaks', async () => {
    if (backend === 'tensorflow') expect(installTensorflowKernels()).toBe(true);
    const a = x();
    const host = Float32Array.from(await a.data());
    const at = (i: number, j: number, k: number) => host[i * 12 + j * 4 + k] as number;
    const before = tf.memory().numTensors;
    const dataIdsBefore = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    for (let round = 0; round < 3; round++) {
      // Repeated calls hit the cached argument tensors.
      const r = tf.reshape(a, [4, -1]);
      expect(r.shape).toEqual([4, 6]);
      expect(Array.from(await r.data())).toEqual(Array.from(host));
      const t = tf.transpose(a, [2, 0, 1]);
      expect(t.shape).toEqual([4, 2, 3]);
      const tv = await t.data();
      expect(tv[1 * 6 + 1 * 3 + 2]).toBe(at(1, 2, 1));
      const m = tf.mean(a, -1, true);
      expect(m.shape).toEqual([2, 3, 1]);
      const mv = await m.data();
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 3; j++) expect(mv[i * 3 + j]).toBeCloseTo((at(i, j, 0) + at(i, j, 1) + at(i, j, 2) + at(i, j, 3)) / 4, 6);
      const s = tf.sum(a, [0, 2]);
      expect(s.shape).toEqual([3]);
      const sv = await s.data();
      for (let j = 0; j < 3; j++) {
        let want = 0;
        for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) want += at(i, j, k);
        expect(sv[j]).toBeCloseTo(want, 5);
      }
      const ints = tf.tensor1d([1, 2, 3], 'int32');
      const si = tf.sum(ints);
      expect(si.dtype).toBe('int32');
      expect(await si.data()).toEqual(Int32Array.from([6]));
      const negated = tf.neg(a);
      const c = tf.concat([a, negated], 1);
      expect(c.shape).toEqual([2, 6, 4]);
      const cv = await c.data();
      expect(cv[1 * 24 + 4 * 4 + 3]).toBe(-at(1, 1, 3));
      const [one, two] = [tf.tensor1d([1], 'int32'), tf.tensor1d([2, 3], 'int32')];
      const ci = tf.concat([one, two]);
      expect(Array.from(await ci.data())).toEqual([1, 2, 3]);
      const same = tf.cast(a, 'float32');
      const other = tf.cast(a, 'int32');
      expect(Array.from(await same.data())).toEqual(Array.from(host));
      expect(other.dtype).toBe('int32');
      tf.dispose([r, t, m, s, ints, si, negated, c, one, two, ci, same, other]);
      // The cast that shares data must not free the original.
      expect((await a.data()).length).toBe(24);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).toBe(dataIdsBefore);
    a.dispose();
  });
});
