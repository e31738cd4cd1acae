import { Rng } from '@lora/core';
import { Linear } from '@lora/models/internal';
import { expectTensorsClose, setupTestBackend } from '@lora/models/test';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { LoraLinear, type LoraAdapterOptions } from './lora-linear.js';

beforeAll(async () => {
  await setupTestBackend();
});

const IN = 12;
const OUT = 10;

function base(seed = 0, bias = true): Linear {
  const rng = new Rng(seed);
  const w = Float32Array.from({ length: IN * OUT }, () => rng.normal() * 0.3);
  const b = bias ? tf.tensor1d(Float32Array.from({ length: OUT }, () => rng.normal())) : undefined;
  return Linear.fromTorch(w, OUT, IN, b === undefined ? {} : { bias: b });
}

const opts = (over: Partial<LoraAdapterOptions> = {}): LoraAdapterOptions => ({
  r: 4,
  loraAlpha: 8,
  useRslora: false,
  useDora: false,
  loraDropout: 0,
  initLoraWeights: true,
  rng: new Rng(1),
  trainable: true,
  ...over,
});

const input = () =>
  tf.tensor3d(
    Float32Array.from({ length: 2 * 3 * IN }, (_, i) => Math.sin(i)),
    [2, 3, IN],
  );

describe('LoraLinear', () => {
  it('equals the base at step 0 (B = 0), A ~ U(±1/√in) in [in, r]', async () => {
    const ref = base();
    const layer = LoraLinear.fromBase(base(), 'default', opts());
    const x = input();
    await expectTensorsClose(layer.apply(x), ref.apply(x), { rtol: 0, atol: 0 });
    const { a, b } = layer.weights('default');
    expect(a.shape).toEqual([IN, 4]);
    expect(b.shape).toEqual([4, OUT]);
    expect((await tf.max(tf.abs(a)).data())[0]).toBeLessThanOrEqual(1 / Math.sqrt(IN));
    expect((await tf.max(tf.abs(b)).data())[0]).toBe(0);
    expect(layer.scaling('default')).toBe(2);
    expect(LoraLinear.fromBase(base(), 'x', opts({ useRslora: true })).scaling('x')).toBe(4);
    layer.dispose();
  });

  it('y = base(x) + s·(x A) B, and denseWeight() is W + s·AB', async () => {
    const layer = LoraLinear.fromBase(base(), 'default', opts({ initLoraWeights: false }));
    const x = input();
    const { a, b } = layer.weights('default');
    const expected = tf.tidy(() =>
      base()
        .apply(x)
        .add(x.reshape([-1, IN]).matMul(a).matMul(b).mul(2).reshape([2, 3, OUT])),
    );
    await expectTensorsClose(layer.apply(x), expected, { rtol: 1e-5, atol: 1e-6 });
    const w = tf.tidy(() => base().denseWeight().add(a.matMul(b).mul(2)));
    await expectTensorsClose(layer.denseWeight(), w, { rtol: 1e-6, atol: 1e-7 });
    layer.dispose();
  });

  it('DoRA: magnitude starts at the column norms of W and the layer equals the base at step 0', async () => {
    const ref = base();
    const layer = LoraLinear.fromBase(base(), 'd', opts({ useDora: true }));
    const norms = tf.tidy(() => tf.sqrt(tf.sum(tf.square(ref.denseWeight()), 0)));
    await expectTensorsClose(layer.weights('d').magnitude as tf.Tensor, norms, { rtol: 1e-6, atol: 1e-7 });
    const x = input();
    await expectTensorsClose(layer.apply(x), ref.apply(x), { rtol: 1e-5, atol: 1e-6 });
    layer.dispose();
  });

  it.each([false, true])('merge then unmerge restores the weight within 1e-6 (DoRA %s)', async (useDora) => {
    const layer = LoraLinear.fromBase(base(), 'm', opts({ initLoraWeights: false, useDora }));
    if (useDora) (layer.weights('m').magnitude as tf.Variable).assign(tf.fill([OUT], 1.7));
    const x = input();
    const before = layer.base.denseWeight();
    const y = layer.apply(x);
    await layer.merge();
    expect(layer.mergedAdapters()).toEqual(['m']);
    await expectTensorsClose(layer.apply(x), y, { rtol: 1e-5, atol: 1e-5 });
    await layer.unmerge();
    await expectTensorsClose(layer.base.denseWeight(), before, { rtol: 0, atol: 1e-6 });
    await expectTensorsClose(layer.apply(x), y, { rtol: 1e-5, atol: 1e-5 });
    layer.dispose();
  });

  it('merge({ safe: true }) commits a finite merge and refuses a NaN adapter without touching the base (PEFT safe_merge)', async () => {
    const layer = LoraLinear.fromBase(base(), 'ok', opts({ initLoraWeights: false }));
    const x = input();
    const y = layer.apply(x);
    await layer.merge(['ok'], { safe: true });
    expect(layer.mergedAdapters()).toEqual(['ok']);
    await expectTensorsClose(layer.apply(x), y, { rtol: 1e-5, atol: 1e-5 });
    await layer.unmerge();

    const broken = LoraLinear.fromBase(base(), 'nan', opts({ initLoraWeights: false }));
    const before = broken.base.denseWeight();
    const { b } = broken.weights('nan');
    b.assign(tf.tidy(() => tf.mul(b, tf.scalar(Number.NaN))));
    const count = tf.memory().numTensors;
    await expect(broken.merge(['nan'], { safe: true })).rejects.toThrow(
      /NaNs detected in the merged weights. The adapter "nan" seems to be broken/,
    );
    expect(broken.mergedAdapters()).toEqual([]);
    expect(tf.memory().numTensors).toBe(count);
    await expectTensorsClose(broken.base.denseWeight(), before, { rtol: 0, atol: 0 });
    tf.dispose([x, y, before]);
    layer.dispose();
    broken.dispose();
  });

  it('disabled while merged: forward unmerges a Linear base first (as PEFT) and returns the base output', async () => {
    const ref = base();
    const layer = LoraLinear.fromBase(base(), 'm', opts({ initLoraWeights: false }));
    const x = input();
    await layer.merge();
    layer.disabled = true;
    await expectTensorsClose(layer.apply(x), ref.apply(x), { rtol: 1e-5, atol: 1e-6 });
    expect(layer.mergedAdapters()).toEqual([]);
    layer.dispose();
    ref.dispose();
  });

  it.each([false, true])('gradients reach only lora_A / lora_B (and the magnitude) (DoRA %s)', async (useDora) => {
    const layer = LoraLinear.fromBase(base(), 'g', opts({ initLoraWeights: false, useDora }));
    const x = input();
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(layer.apply(x))) as tf.Scalar, layer.trainableVariables());
    expect(Object.keys(grads)).toHaveLength(useDora ? 3 : 2);
    for (const g of Object.values(grads)) expect((await tf.max(tf.abs(g)).data())[0]).toBeGreaterThan(0);
    // Numerical check of dL/dB[0,0] (float32 central difference). Not for DoRA: its weight norm is
    // detached from the gradient (DoRA §4.3, as PEFT), so the analytic gradient is not the total derivative.
    const { b } = layer.weights('g');
    if (useDora) {
      tf.dispose([value, ...Object.values(grads)]);
      layer.dispose();
      return;
    }
    const eps = 1e-2;
    const loss = async () => {
      const s = tf.tidy(() => tf.sum(tf.square(layer.apply(x))));
      const v = (await s.data())[0] as number;
      s.dispose();
      return v;
    };
    const b0 = b.clone();
    const bump = (d: number) =>
      b.assign(
        tf.tidy(() =>
          b0.add(
            tf
              .oneHot([0], 4 * OUT)
              .reshape([4, OUT])
              .mul(d),
          ),
        ),
      );
    bump(eps);
    const up = await loss();
    bump(-eps);
    const down = await loss();
    b.assign(b0);
    const analytic = (await (grads[b.name] as tf.Tensor).data())[0] as number;
    expect(Math.abs((up - down) / (2 * eps) - analytic)).toBeLessThan(2e-2 * Math.max(1, Math.abs(analytic)));
    tf.dispose([value, b0, ...Object.values(grads)]);
    layer.dispose();
  });

  it('applies dropout only in training mode and leaks no tensors across forwards', async () => {
    const layer = LoraLinear.fromBase(base(), 'd', opts({ initLoraWeights: false, loraDropout: 0.5 }));
    const x = input();
    const a = layer.apply(x);
    const b = layer.apply(x);
    await expectTensorsClose(a, b, { rtol: 0, atol: 0 });
    layer.training = true;
    const c = layer.apply(x);
    expect((await tf.max(tf.abs(tf.sub(a, c))).data())[0]).toBeGreaterThan(1e-4);
    tf.dispose([a, b, c]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) layer.apply(x).dispose();
    expect(tf.memory().numTensors).toBe(before);
    layer.dispose();
  });

  it('pissa / olora keep the output (residual base) and reject unknown inits naming the option', async () => {
    const ref = base();
    const x = input();
    for (const init of ['pissa', 'olora'] as const) {
      const layer = LoraLinear.fromBase(base(), init, opts({ initLoraWeights: init }));
      expect(layer.base).not.toBeInstanceOf(LoraLinear);
      await expectTensorsClose(layer.apply(x), ref.apply(x), { rtol: 1e-5, atol: 1e-5 });
      layer.dispose();
    }
    expect(() => LoraLinear.fromBase(base(), 'l', opts({ initLoraWeights: 'loftq' as never }))).toThrow(
      /`init_lora_weights` "loftq" is not supported/,
    );
    tf.dispose([x]);
    ref.dispose();
  });
});
