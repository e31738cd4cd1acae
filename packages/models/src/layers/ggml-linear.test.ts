// GgmlLinear on the native kernels (lora_ops.node, tensorflow backend): the dequantized weight
// equals the TypeScript GGUF dequantizer (itself checked against gguf-py) bit for bit, and every
// product equals a float64 reference to float32 rounding. Runs under `pnpm test:tensorflow` once
// `pnpm setup:tensorflow` has built lora_ops.node; skipped on other backends.
import { InvalidArgumentError, Rng } from '@lora/core';
import { ggmlTypeInfo } from '@lora/core/internal';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ggmlKernelsActive, SILU_MUL } from '../backend/native-kernel-names.js';
import { nativeOpsStatus } from '../backend/native-ops.js';
import { dequantizeGgml } from '../io/gguf/dequantize.js';
import { setupTestBackend } from '../test/index.js';
import { applyLinears, GGML_FUSED_MAX_ROWS, GgmlLinear, ggmlGateUp } from './ggml-linear.js';

const onTensorflow = process.env.LORA_TEST_BACKEND === 'tensorflow';
beforeAll(async () => {
  await setupTestBackend();
  // The tensorflow test job runs after `pnpm setup:tensorflow`, which builds lora_ops.node.
  if (onTensorflow && !ggmlKernelsActive()) throw new Error(`the native ggml kernels are not loaded: ${nativeOpsStatus()}`);
});

/** float16 bits of a random normal value of exponent in [lo, hi] (sign as given), now and then zero or subnormal. */
function randomHalf(rng: Rng, lo: number, hi: number, negative = false): number {
  const roll = rng.next();
  const sign = negative ? 0x8000 : 0;
  if (roll < 0.02) return sign; // zero scale: the block is all m (or 0)
  if (roll < 0.04) return sign | Math.floor(rng.next() * 1023 + 1); // subnormal
  const exp = lo + Math.floor(rng.next() * (hi - lo + 1));
  return sign | (exp << 10) | Math.floor(rng.next() * 1024);
}

/** Random blocks of `rows × cols` weights in ggml type `type`, as a GGUF file stores them. */
function randomBlocks(rng: Rng, type: number, rows: number, cols: number): Uint8Array {
  const info = { blockBytes: ggmlTypeInfo(type)!.typeSize };
  const blocks = (rows * cols) / 32;
  const out = new Uint8Array(blocks * info.blockBytes);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const at = b * info.blockBytes;
    view.setUint16(at, randomHalf(rng, 9, 13), true);
    let q = at + 2;
    if (type === 3) {
      view.setUint16(at + 2, randomHalf(rng, 10, 14, rng.next() < 0.7), true);
      q += 2;
    }
    for (let i = q; i < at + info.blockBytes; i++) out[i] = Math.floor(rng.next() * 256);
  }
  return out;
}

/** `x [m, k] · wᵀ` with `w [n, k]`, in float64. */
function reference(x: Float32Array, w: Float32Array, m: number, n: number, k: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += x[i * k + t]! * w[j * k + t]!;
      y[i * n + j] = s;
    }
  return y;
}

/** Largest |a − b| relative to the largest |b|. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return err / scale;
}

describe.skipIf(!onTensorflow)('GgmlLinear (native ggml kernels; LORA_TEST_BACKEND=tensorflow only)', () => {
  // Shapes: a Q4_0 row of one block (18 bytes, padded to 20), rows not a multiple of the thread
  // split, and SmolLM2's gate shape.
  const cases = [
    { type: 2, out: 7, in: 32 },
    { type: 2, out: 33, in: 96 },
    { type: 3, out: 45, in: 160 },
    { type: 3, out: 1536, in: 576 },
    { type: 8, out: 19, in: 64 },
    { type: 8, out: 300, in: 576 },
  ];

  it.each(cases)('ggml type $type [$out, $in]: dequantizes bit for bit and multiplies to float32 rounding', (c) => {
    const rng = new Rng(c.type * 1000 + c.out);
    const bytes = randomBlocks(rng, c.type, c.out, c.in);
    const w = dequantizeGgml(bytes, c.type, c.out * c.in, { file: 'random', tensor: 'w' });
    const layer = new GgmlLinear(bytes, c.type, c.in, c.out, { name: 'w' });
    const dense = layer.dequantize();
    expect(Array.from(dense.dataSync())).toEqual(Array.from(w));
    dense.dispose();
    for (const m of [1, 2, 3, 5, GGML_FUSED_MAX_ROWS, GGML_FUSED_MAX_ROWS + 1, 40]) {
      const x = Float32Array.from({ length: m * c.in }, () => rng.next() * 4 - 2);
      const y = tf.tidy(() => layer.apply(tf.tensor2d(x, [m, c.in])));
      expect(y.shape).toEqual([m, c.out]);
      expect(relativeError(y.dataSync(), reference(x, w, m, c.out, c.in))).toBeLessThan(2e-6);
      y.dispose();
    }
    layer.dispose();
  });

  it('passes the gradient to its input (dy · W), adds the bias and keeps leading axes', () => {
    const rng = new Rng(7);
    const [out, inF] = [40, 64];
    const bytes = randomBlocks(rng, 3, out, inF);
    const w = dequantizeGgml(bytes, 3, out * inF, { file: 'random', tensor: 'w' });
    const bias = Float32Array.from({ length: out }, () => rng.next());
    const layer = new GgmlLinear(bytes, 3, inF, out, { bias: tf.tensor1d(bias) });
    const before = tf.memory().numTensors;
    for (const rows of [2, 12]) {
      const x = tf.randomNormal([1, rows, inF], 0, 1, 'float32', 3);
      const dy = tf.randomNormal([1, rows, out], 0, 1, 'float32', 4);
      const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx), dy)))(x);
      expect(dx.shape).toEqual([1, rows, inF]);
      const xs = x.dataSync() as Float32Array;
      const dys = dy.dataSync() as Float32Array;
      // dx[i, t] = Σ_j dy[i, j] w[j, t]
      const want = new Float64Array(rows * inF);
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < out; j++) for (let t = 0; t < inF; t++) want[i * inF + t]! += dys[i * out + j]! * w[j * inF + t]!;
      expect(relativeError(dx.dataSync(), want)).toBeLessThan(2e-6);
      const y = tf.tidy(() => layer.apply(x));
      const ref = reference(xs, w, rows, out, inF).map((v, i) => v + bias[i % out]!);
      expect(relativeError(y.dataSync(), ref)).toBeLessThan(2e-6);
      tf.dispose([x, dy, dx, y]);
    }
    expect(tf.memory().numTensors).toBe(before);
    const dense = layer.denseWeight();
    expect(dense.shape).toEqual([inF, out]);
    expect(dense.dataSync()[1]).toBe(w[inF]); // [in, out]: element (0, 1) is w[1, 0]
    dense.dispose();
    layer.dispose();
  });

  it('applyLinears runs layers sharing an input as one op, with the values of each layer alone', () => {
    const rng = new Rng(11);
    const make = (type: number, out: number, bias?: tf.Tensor1D) =>
      new GgmlLinear(randomBlocks(rng, type, out, 128), type, 128, out, bias === undefined ? {} : { bias });
    const [q, k, v] = [make(3, 96), make(3, 32), make(3, 32)];
    const mixed = [make(3, 16), make(8, 16)]; // two types: applied one by one
    for (const rows of [1, 3, GGML_FUSED_MAX_ROWS, GGML_FUSED_MAX_ROWS + 3]) {
      const x = tf.randomNormal([rows, 128], 0, 1, 'float32', rows) as tf.Tensor2D;
      for (const layers of [[q, k, v], mixed]) {
        const together = applyLinears(x, layers);
        const alone = layers.map((l) => l.apply(x));
        together.forEach((t, i) => {
          expect(t.shape).toEqual([rows, layers[i]!.outFeatures]);
          expect(Array.from(t.dataSync())).toEqual(Array.from(alone[i]!.dataSync()));
        });
        tf.dispose([...together, ...alone]);
      }
      x.dispose();
    }
    for (const l of [q, k, v, ...mixed]) l.dispose();
  });

  it('ggmlGateUp gives silu(gate(x)) · up(x) in one op, bit for bit as the separate ops', () => {
    const rng = new Rng(13);
    const gate = new GgmlLinear(randomBlocks(rng, 3, 80, 96), 3, 96, 80);
    const up = new GgmlLinear(randomBlocks(rng, 3, 80, 96), 3, 96, 80);
    for (const rows of [1, 5, GGML_FUSED_MAX_ROWS]) {
      const x = tf.randomNormal([rows, 96], 0, 1, 'float32', rows) as tf.Tensor2D;
      const fused = ggmlGateUp(x, gate, up);
      expect(fused?.shape).toEqual([rows, 80]);
      const [g, u] = [gate.apply(x), up.apply(x)];
      const separate = tf.engine().runKernel(SILU_MUL, { g, u }) as tf.Tensor;
      expect(Array.from(fused!.dataSync())).toEqual(Array.from(separate.dataSync()));
      tf.dispose([x, fused!, g, u, separate]);
    }
    const many = tf.zeros([GGML_FUSED_MAX_ROWS + 1, 96]);
    expect(ggmlGateUp(many, gate, up)).toBeUndefined(); // many rows: dequantize + matmul instead
    many.dispose();
    gate.dispose();
    up.dispose();
  });

  it('refuses types without a kernel and byte counts that do not fit the shape', () => {
    expect(() => new GgmlLinear(new Uint8Array(18), 12, 32, 1)).toThrow(InvalidArgumentError);
    expect(() => new GgmlLinear(new Uint8Array(18), 2, 32, 2, { name: 'model.layers.0.mlp.up_proj' })).toThrow(
      /model\.layers\.0\.mlp\.up_proj.*need 36 bytes/,
    );
    expect(() => new GgmlLinear(new Uint8Array(36), 2, 48, 1)).toThrow(/multiple of 32/);
  });
});
