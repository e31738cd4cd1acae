// The elementwise kernels of lora_ops.node against the tfjs ops they replace, and what
// installNativeOps says when it cannot load them. The kernel tests run under
// `pnpm test:tensorflow` (after `pnpm setup:tensorflow` built lora_ops.node).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RMSNorm } from '../layers/rms-norm.js';
import { expectArraysClose, setupTestBackend } from '../test/index.js';
import { nativeKernel, RMS_NORM, SILU_MUL } from './native-kernel-names.js';
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
