// lora_ops.node's LoraLinear / LoraLinearGrad (which `LoraLinear.apply` takes on the tensorflow
// backend for a frozen float32 base with one plain adapter) against the layer's formula in tfjs
// ops, `(x·W + bias) + ((x·A)·B)·s`, and tfjs's gradients of it. Runs under `pnpm test:tensorflow`.
import { Rng } from '@lora/core';
import type { LinearLike } from '@lora/models';
import { LORA_LINEAR, Linear, nativeKernel, nativeOpsStatus } from '@lora/models/internal';
import { expectTensorsClose, setupTestBackend } from '@lora/models/test';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { LoraLinear } from './lora-linear.js';

const onTensorflow = process.env.LORA_TEST_BACKEND === 'tensorflow';
beforeAll(async () => {
  await setupTestBackend();
  if (onTensorflow && !nativeKernel(LORA_LINEAR)) throw new Error(`lora_ops.node is not loaded: ${nativeOpsStatus()}`);
});

describe.skipIf(!onTensorflow)('LoraLinear through the native op (LORA_TEST_BACKEND=tensorflow only)', () => {
  for (const { rows, inF, outF, r, bias } of [
    { rows: 7, inF: 12, outF: 10, r: 4, bias: true },
    { rows: 1100, inF: 64, outF: 172, r: 16, bias: false }, // several row chunks
  ]) {
    it(`[${rows}, ${inF}] → ${outF}, r ${r}${bias ? ', bias' : ''}: output and gradients of x, A, B equal the tfjs formula`, async () => {
      const rng = new Rng(3);
      const w = Float32Array.from({ length: inF * outF }, () => rng.normal() * 0.3);
      const b = bias ? tf.tensor1d(Float32Array.from({ length: outF }, () => rng.normal())) : undefined;
      const layer = LoraLinear.fromBase(Linear.fromTorch(w, outF, inF, b === undefined ? {} : { bias: b }), 'default', {
        r,
        loraAlpha: 3 * r,
        useRslora: true, // a scale that is not a power of two
        useDora: false,
        loraDropout: 0,
        initLoraWeights: false,
        rng: new Rng(1),
        trainable: true,
      });
      const { a, b: lb } = layer.weights('default');
      const s = layer.scaling('default');
      const wT = tf.tensor2d(w, [outF, inF]).transpose() as tf.Tensor2D;
      const x = tf.randomNormal([rows, inF], 0, 1, 'float32', 4) as tf.Tensor2D;
      const dy = tf.randomNormal([rows, outF], 0, 1, 'float32', 5);
      const formula = (xi: tf.Tensor, ai: tf.Tensor, bi: tf.Tensor) => {
        let base = tf.matMul(xi as tf.Tensor2D, wT);
        if (b !== undefined) base = tf.add(base, b);
        return tf.add(base, tf.mul(tf.matMul(tf.matMul(xi as tf.Tensor2D, ai as tf.Tensor2D), bi as tf.Tensor2D), s));
      };
      const tensorsBefore = tf.memory().numTensors;
      const y = layer.apply(x);
      const expected = tf.tidy(() => formula(x, a, lb));
      await expectTensorsClose(y, expected, { rtol: 1e-5, atol: 1e-5 });
      // Under a tape: the gradients of x and of the adapter's variables.
      const native = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x), dy)) as tf.Scalar, [a, lb]);
      const reference = tf.variableGrads(() => tf.sum(tf.mul(formula(x, a, lb), dy)) as tf.Scalar, [a, lb]);
      // dA and dB sum over every row (|values| up to ~2500 here, with cancellation): the bound is
      // float32 summation-order noise relative to the largest value, not to each element.
      for (const v of [a, lb]) {
        const ref = reference.grads[v.name] as tf.Tensor;
        const largest = Array.from(await ref.data(), Math.abs).reduce((m, value) => Math.max(m, value), 0);
        await expectTensorsClose(native.grads[v.name] as tf.Tensor, ref, { rtol: 1e-5, atol: 2e-6 * largest });
      }
      const dxNative = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(layer.apply(xi), dy)))(x);
      const dxReference = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(formula(xi, a, lb), dy)))(x);
      await expectTensorsClose(dxNative, dxReference, { rtol: 1e-4, atol: 1e-4 });
      tf.dispose([
        y,
        expected,
        native.value,
        reference.value,
        dxNative,
        dxReference,
        ...Object.values(native.grads),
        ...Object.values(reference.grads),
      ]);
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      tf.dispose([x, dy, wT]);
      layer.dispose();
    });
  }

  it('with dropout while training: the same masks, output and gradients as the tfjs path', async () => {
    const [rows, inF, outF, r] = [300, 24, 40, 8];
    const w = Float32Array.from({ length: inF * outF }, (_, i) => Math.sin(i) * 0.3);
    const make = (native: boolean) => {
      const linear = Linear.fromTorch(w, outF, inF, { bias: tf.tensor1d(Float32Array.from({ length: outF }, (_, i) => Math.cos(i))) });
      // A base that is not a `Linear` instance keeps the tfjs path (same weights, same dropout seeds).
      const base: LinearLike = native
        ? linear
        : {
            inFeatures: inF,
            outFeatures: outF,
            bias: linear.bias,
            apply: (t) => linear.apply(t),
            trainableVariables: () => [],
            denseWeight: () => linear.denseWeight(),
            dispose: () => linear.dispose(),
          };
      const layer = LoraLinear.fromBase(base, 'default', {
        r,
        loraAlpha: 16,
        useRslora: false,
        useDora: false,
        loraDropout: 0.3,
        initLoraWeights: false,
        rng: new Rng(9),
        trainable: true,
      });
      layer.training = true;
      return layer;
    };
    const [native, tfjs] = [make(true), make(false)];
    const x = tf.randomNormal([rows, inF], 0, 1, 'float32', 6) as tf.Tensor2D;
    const dy = tf.randomNormal([rows, outF], 0, 1, 'float32', 7);
    const grads = (layer: LoraLinear) => {
      const { a, b } = layer.weights('default');
      const { grads: g } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x), dy)) as tf.Scalar, [a, b]);
      return [g[a.name] as tf.Tensor, g[b.name] as tf.Tensor];
    };
    const [yNative, yTfjs] = [native.apply(x), tfjs.apply(x)];
    await expectTensorsClose(yNative, yTfjs, { rtol: 1e-5, atol: 1e-5 });
    // One call each: every apply draws the next dropout seed, in the same order on both layers.
    const [gNative, gTfjs] = [grads(native), grads(tfjs)];
    for (let i = 0; i < 2; i++) await expectTensorsClose(gNative[i] as tf.Tensor, gTfjs[i] as tf.Tensor, { rtol: 1e-4, atol: 1e-4 });
    const dx = (layer: LoraLinear) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(layer.apply(t), dy)))(x);
    await expectTensorsClose(dx(native), dx(tfjs), { rtol: 1e-4, atol: 1e-4 });
    tf.dispose([x, dy, yNative, yTfjs]);
    native.dispose();
    tfjs.dispose();
  });

  it('names the mismatched shapes', () => {
    const x = tf.zeros([2, 4]);
    const attrs = { scale: 1, hasBias: false };
    expect(() => tf.engine().runKernel(LORA_LINEAR, { x, w: tf.zeros([4, 3]), a: tf.zeros([5, 2]), b: tf.zeros([2, 3]) }, attrs)).toThrow(
      /x \[N, in\], w \[in, out\], a \[in, r\], b \[r, out\] must agree/,
    );
    x.dispose();
  });
});
