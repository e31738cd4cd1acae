// The elementwise kernels of lora_ops.node against the tfjs ops they replace, and what
// installNativeOps says when it cannot load them. The kernel tests run under
// `pnpm test:tensorflow` (after `pnpm setup:tensorflow` built lora_ops.node).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RMSNorm } from '../layers/rms-norm.js';
import { expectArraysClose, setupTestBackend } from '../test/index.js';
import { Linear } from '../layers/linear.js';
import { GatedMLP } from '../layers/mlp.js';
import { applyLinears } from '../layers/ggml-linear.js';
import { DECODE_ATTENTION, MATMUL_N, nativeKernel, RMS_NORM, RMS_NORM_GRAD, SILU_MUL, SILU_MUL_GRAD } from './native-kernel-names.js';
import { installNativeOps, nativeOpsStatus } from './native-ops.js';

const onTensorflow = process.env.LORA_TEST_BACKEND === 'tensorflow';
beforeAll(async () => {
  await setupTestBackend();
  if (onTensorflow && !nativeKernel(RMS_NORM)) throw new Error(`lora_ops.node is not loaded: ${nativeOpsStatus()}`);
});

describe.skipIf(!onTensorflow)('native elementwise kernels (LORA_TEST_BACKEND=tensorflow only)', () => {
  it('LoraRmsNorm equals x · rsqrt(mean(x²) + eps) · scale to float32 rounding, over any leading axes', async () => {
    for (const shape of [
      [1, 576],
      [3, 5, 64],
      [2, 13],
    ]) {
      const h = shape[shape.length - 1]!;
      const x = tf.randomNormal(shape, 0, 3, 'float32', h);
      const weight = (await tf.randomUniform([h], 0.5, 1.5, 'float32', 1).data()) as Float32Array;
      const norm = new RMSNorm(weight, 1e-5);
      const native = norm.apply(x); // no tape: the native op
      const scale = tf.tensor1d(weight);
      const reference = tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))), scale));
      expect(native.shape).toEqual(shape);
      expectArraysClose(native, reference, { rtol: 2e-6, atol: 1e-6 });
      tf.dispose([x, native, scale, reference]);
      norm.dispose();
    }
  });

  it('LoraSiluMul equals g · sigmoid(g) · u to float32 rounding, and refuses operands of two shapes', async () => {
    const g = tf.randomNormal([4, 1536], 0, 4, 'float32', 2);
    const u = tf.randomNormal([4, 1536], 0, 1, 'float32', 3);
    const native = tf.engine().runKernel(SILU_MUL, { g, u }) as tf.Tensor;
    const reference = tf.tidy(() => tf.mul(tf.mul(g, tf.sigmoid(g)), u));
    expectArraysClose(native, reference, { rtol: 2e-6, atol: 1e-6 });
    expect(() => tf.engine().runKernel(SILU_MUL, { g, u: tf.zeros([4, 2]) })).toThrow(/one shape/);
    tf.dispose([g, u, native, reference]);
  });
});

describe.skipIf(!onTensorflow)('LoraRmsNormGrad and LoraSiluMulGrad (LORA_TEST_BACKEND=tensorflow only)', () => {
  it('RMSNorm under a tape: value and input gradient equal tfjs autodiff of the formula to float32 rounding', async () => {
    const x = tf.randomNormal([37, 96], 0, 2, 'float32', 11);
    const dy = tf.randomNormal([37, 96], 0, 1, 'float32', 12);
    const weight = (await tf.randomUniform([96], 0.5, 1.5, 'float32', 13).data()) as Float32Array;
    const norm = new RMSNorm(weight, 1e-6);
    const scale = tf.tensor1d(weight);
    const formula = (t: tf.Tensor) => tf.mul(tf.mul(t, tf.rsqrt(tf.add(tf.mean(tf.square(t), -1, true), 1e-6))), scale);
    const native = tf.valueAndGrad((t: tf.Tensor) => tf.sum(tf.mul(norm.apply(t), dy)))(x);
    const reference = tf.valueAndGrad((t: tf.Tensor) => tf.sum(tf.mul(formula(t), dy)))(x);
    expectArraysClose(native.value, reference.value, { rtol: 1e-5, atol: 1e-4 });
    expectArraysClose(native.grad, reference.grad, { rtol: 1e-5, atol: 1e-6 });
    expect(() => tf.engine().runKernel(RMS_NORM_GRAD, { x, scale, dy: tf.zeros([37, 95]) }, { eps: 1e-6 })).toThrow(/must agree/);
    tf.dispose([x, dy, scale, native.value, native.grad, reference.value, reference.grad]);
    norm.dispose();
  });

  it('a SiLU MLP under a tape: its input gradient equals tfjs autodiff of down(silu(x·G) · (x·U)) to float32 rounding', () => {
    const x = tf.randomNormal([7, 48], 0, 1, 'float32', 14);
    const dy = tf.randomNormal([7, 48], 0, 1, 'float32', 15);
    const [wg, wu, wd] = [16, 17, 18].map(
      (seed, i) => tf.randomNormal(i === 2 ? [1031, 48] : [48, 1031], 0, 0.5, 'float32', seed) as tf.Tensor2D,
    );
    const mlp = new GatedMLP(new Linear(wg as tf.Tensor2D), new Linear(wu as tf.Tensor2D), new Linear(wd as tf.Tensor2D), 'silu');
    const formula = (t: tf.Tensor) => {
      const gate = tf.matMul(t as tf.Tensor2D, wg as tf.Tensor2D);
      return tf.matMul(tf.mul(tf.mul(gate, tf.sigmoid(gate)), tf.matMul(t as tf.Tensor2D, wu as tf.Tensor2D)), wd as tf.Tensor2D);
    };
    const native = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(mlp.apply(t), dy)))(x);
    const reference = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(formula(t), dy)))(x);
    expectArraysClose(native, reference, { rtol: 1e-4, atol: 1e-4 });
    const g = tf.ones([5, 3]);
    expect(() => tf.engine().runKernel(SILU_MUL_GRAD, { g, u: g, dy: tf.zeros([5, 2]) })).toThrow(/one shape/);
    tf.dispose([x, dy, native, reference, g]);
    mlp.dispose();
  });
});

describe.skipIf(!onTensorflow)('LoraAddRmsNorm and LoraMatMulN (LORA_TEST_BACKEND=tensorflow only)', () => {
  it('LoraAddRmsNorm gives x + delta exactly and its norm to float32 rounding', async () => {
    const x = tf.randomNormal([3, 96], 0, 2, 'float32', 8);
    const delta = tf.randomNormal([3, 96], 0, 2, 'float32', 9);
    const weight = (await tf.randomUniform([96], 0.5, 1.5, 'float32', 10).data()) as Float32Array;
    const norm = new RMSNorm(weight, 1e-6);
    const fused = norm.addAndApply(x, delta);
    expect(fused).toBeDefined();
    const sum = tf.add(x, delta);
    const reference = tf.tidy(() => tf.mul(tf.mul(sum, tf.rsqrt(tf.add(tf.mean(tf.square(sum), -1, true), 1e-6))), tf.tensor1d(weight)));
    expect(Array.from(fused!.sum.dataSync())).toEqual(Array.from(sum.dataSync()));
    expectArraysClose(fused!.normed, reference, { rtol: 2e-6, atol: 1e-6 });
    // Inside a gradient computation the layer leaves it to the tfjs ops.
    tf.grad((t: tf.Tensor) => {
      expect(norm.addAndApply(t, delta)).toBeUndefined();
      return tf.sum(t);
    })(x).dispose();
    tf.dispose([x, delta, sum, reference, fused!.sum, fused!.normed]);
    norm.dispose();
  });

  it('applyLinears runs frozen float32 layers through LoraMatMulN to float32 rounding, and trainable ones alone', () => {
    const layers = [64, 32, 32].map((out, i) => new Linear(tf.randomNormal([48, out], 0, 1, 'float32', 20 + i) as tf.Tensor2D));
    const x = tf.randomNormal([3, 48], 0, 1, 'float32', 30) as tf.Tensor2D;
    const together = applyLinears(x, layers);
    layers.forEach((l, i) => {
      const alone = tf.matMul(x, l.weight);
      expectArraysClose(together[i]!, alone, { rtol: 1e-5, atol: 1e-5 });
      alone.dispose();
    });
    expect(() => tf.engine().runKernel(MATMUL_N, { x, w0: tf.zeros([47, 3]) }, { n: 1 })).toThrow(/weight 0 must be \[48, out\]/);
    tf.dispose([x, ...together]);
    for (const l of layers) l.dispose();
  });
});

describe.skipIf(!onTensorflow)('LoraDecodeAttention (LORA_TEST_BACKEND=tensorflow only)', () => {
  it('equals rotate + append + grouped-query softmax attention with tfjs ops, for per-row and shared rotations', async () => {
    const [b, h, kv, s, d] = [2, 6, 2, 5, 8];
    const rep = h / kv;
    for (const rotRows of [b, 1]) {
      const q = tf.randomNormal([b, h * d], 0, 1, 'float32', 1);
      const k = tf.randomNormal([b, kv * d], 0, 1, 'float32', 2);
      const v = tf.randomNormal([b, kv * d], 0, 1, 'float32', 3);
      const qRot = tf.randomNormal([rotRows, d, d], 0, 0.5, 'float32', 4);
      const kRot = tf.randomNormal([rotRows, d, d], 0, 0.5, 'float32', 5);
      const keys = tf.randomNormal([b, kv, s, d], 0, 1, 'float32', 6);
      const values = tf.randomNormal([b, kv, s, d], 0, 1, 'float32', 7);
      const [out, keysOut, valuesOut] = tf
        .engine()
        .runKernel(DECODE_ATTENTION, { q, k, v, qRot, kRot, keys, values }, { heads: h, kvHeads: kv }) as tf.Tensor[];
      const [refOut, refKeys, refValues] = tf.tidy(() => {
        const rq = tf.reshape(tf.matMul(tf.reshape(q, [b, h, d]), tf.broadcastTo(qRot, [b, d, d])), [b, kv, rep, d]);
        const rk = tf.reshape(tf.matMul(tf.reshape(k, [b, kv, d]), tf.broadcastTo(kRot, [b, d, d])), [b, kv, 1, d]);
        const allK = tf.concat([keys, rk], 2);
        const allV = tf.concat([values, tf.reshape(v, [b, kv, 1, d])], 2);
        const p = tf.softmax(tf.matMul(rq, allK, false, true));
        return [tf.reshape(tf.matMul(p, allV), [b, h * d]), allK, allV];
      });
      expect(keysOut!.shape).toEqual([b, kv, s + 1, d]);
      expectArraysClose(out!, refOut!, { rtol: 1e-5, atol: 1e-6 });
      expectArraysClose(keysOut!, refKeys!, { rtol: 1e-5, atol: 1e-6 });
      expect(Array.from(valuesOut!.dataSync())).toEqual(Array.from(refValues!.dataSync()));
      tf.dispose([q, k, v, qRot, kRot, keys, values, out!, keysOut!, valuesOut!, refOut!, refKeys!, refValues!]);
    }
  });

  it('names the mismatched input', () => {
    const t = (shape: number[]) => tf.zeros(shape);
    const args = {
      q: t([1, 16]),
      k: t([1, 8]),
      v: t([1, 8]),
      qRot: t([1, 8, 8]),
      kRot: t([1, 8, 8]),
      keys: t([1, 1, 3, 8]),
      values: t([1, 1, 3, 8]),
    };
    expect(() => tf.engine().runKernel(DECODE_ATTENTION, { ...args, q: t([1, 12]) }, { heads: 2, kvHeads: 1 })).toThrow(
      /q must be \[1, 16\]/,
    );
    expect(() => tf.engine().runKernel(DECODE_ATTENTION, { ...args, values: t([1, 1, 4, 8]) }, { heads: 2, kvHeads: 1 })).toThrow(
      /keys and values/,
    );
    tf.dispose(Object.values(args));
  });
});

describe('installNativeOps', () => {
  // On tensorflow the kernels are already registered in this process, so there is nothing to refuse.
  it.skipIf(onTensorflow)('says why it loads nothing: another backend object, LORA_NATIVE_OPS=0, a file that does not load', () => {
    expect(installNativeOps({})).toBe(false);
    expect(nativeOpsStatus()).toMatch(/not tfjs-node 4\.x/);
    const fake = { binding: { executeOp: () => [] }, createOutputTensor: () => ({}) };
    expect(installNativeOps(fake, { LORA_NATIVE_OPS: '0' })).toBe(false);
    expect(nativeOpsStatus()).toBe('LORA_NATIVE_OPS=0');
    expect(installNativeOps(fake, { LORA_NATIVE_OPS: '/nonexistent/lora_ops.node' })).toBe(false);
    expect(nativeOpsStatus()).toMatch(/\/nonexistent\/lora_ops\.node did not load/);
  });
});
