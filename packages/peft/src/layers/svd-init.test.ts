// PiSSA / OLoRA initialisation: exact parity with PEFT 0.21 on fixtures/tiny-llama
// (fixtures/peft/pissa-olora/, written by tools/parity/peft/make_pissa_olora.py), and properties of
// the randomized `pissa_niter_<n>` variant (torch's sketch is random, so no byte parity).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@lora/core';
import { loadModel } from '@lora/models';
import { Linear, SafetensorsReader } from '@lora/models/internal';
import { expectTensorsClose, setupTestBackend } from '@lora/models/test';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loraConfig, type InitLoraWeights } from '../config/lora-config.js';
import { getPeftModel } from '../peft-model.js';
import { LoraLinear, type LoraAdapterOptions } from './lora-linear.js';

const FIXTURES = join(import.meta.dirname, '../../../../fixtures');
const DIR = join(FIXTURES, 'peft', 'pissa-olora');

interface Reference {
  base: string;
  cases: Record<
    string,
    {
      config: { r: number; lora_alpha: number; init_lora_weights: InitLoraWeights; target_modules: string[] };
      scaling: number;
      modules: string[];
    }
  >;
}

beforeAll(async () => {
  await setupTestBackend();
});

/** Host `[rows, cols]` product. */
function matmul(x: ArrayLike<number>, y: ArrayLike<number>, rows: number, inner: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let k = 0; k < inner; k++) {
      const v = x[i * inner + k] as number;
      for (let j = 0; j < cols; j++) out[i * cols + j] = (out[i * cols + j] as number) + v * (y[k * cols + j] as number);
    }
  return out;
}

// On webgpu the base weight cannot be read back synchronously (adapters are created synchronously):
// there the init must fail with a clear message instead, tested below.
const onWebGpu = process.env.LORA_TEST_BACKEND === 'webgpu';

describe.each(['pissa', 'olora'])('%s vs PEFT 0.21 on tiny-llama', (name) => {
  const ref = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8')) as Reference;
  const spec = ref.cases[name] as Reference['cases'][string];

  it.runIf(onWebGpu)('on webgpu: refused with a message naming the backend and the fix', async () => {
    const { model } = await loadModel(join(FIXTURES, ref.base));
    const input = tf.tensor2d([[1, 5, 9]], [1, 3], 'int32');
    model.forward(input).dispose(); // the weights now live on the GPU
    const { r, lora_alpha: loraAlpha, init_lora_weights: initLoraWeights, target_modules: targetModules } = spec.config;
    expect(() => getPeftModel(model, loraConfig({ r, loraAlpha, initLoraWeights, targetModules, layersToTransform: [0] }))).toThrow(
      /reads the base weight .* back synchronously .*\(webgpu\).*wasm, cpu or tensorflow/,
    );
    input.dispose();
    model.dispose();
  });

  it.skipIf(onWebGpu)(
    'B·A and the residual base weight match PEFT within 1e-4; output equals the base model within 1e-5 relative',
    async () => {
      const { model } = await loadModel(join(FIXTURES, ref.base));
      const input = tf.tensor2d([[1, 5, 9, 13, 17, 21, 25, 29]], [1, 8], 'int32');
      const before = model.forward(input);
      const { r, lora_alpha: loraAlpha, init_lora_weights: initLoraWeights, target_modules: targetModules } = spec.config;
      const peft = getPeftModel(model, loraConfig({ r, loraAlpha, initLoraWeights, targetModules, layersToTransform: [0] }));
      const after = peft.forward(input);
      const report = await expectTensorsClose(after, before, { rtol: 1e-5, atol: 1e-5 });
      console.log(`${name}: max abs logit change at init ${report.maxAbs.toExponential(2)}`);

      const reader = await SafetensorsReader.open(join(DIR, 'reference.safetensors'));
      const layers = peft.loraLayers();
      for (const module of spec.modules) {
        const path = [...layers.keys()].find((p) => p.endsWith(`layers.0.${module}`));
        expect(path, module).toBeDefined();
        const layer = layers.get(path as string) as LoraLinear;
        expect(layer.scaling('default')).toBe(spec.scaling);
        const { a, b } = await layer.toTorch('default');
        const [outF, inF] = [layer.outFeatures, layer.inFeatures];
        expect([a.length, b.length]).toEqual([r * inF, outF * r]); // lora_A [r, in], lora_B [out, r]
        const ba = matmul(b, a, outF, r, inF);
        const refBa = await reader.get(`${name}.${module}.ba`);
        const baReport = await expectTensorsClose(tf.tensor2d(Float32Array.from(ba), [outF, inF]), refBa.data as Float32Array, {
          rtol: 1e-4,
          atol: 1e-4,
        });
        const wRes = tf.tidy(() => tf.transpose(layer.base.denseWeight()));
        const resReport = await expectTensorsClose(wRes, (await reader.get(`${name}.${module}.w_res`)).data as Float32Array, {
          rtol: 1e-4,
          atol: 1e-4,
        });
        console.log(
          `${name} ${module}: max abs B·A error ${baReport.maxAbs.toExponential(2)}, W_res error ${resReport.maxAbs.toExponential(2)}`,
        );
        wRes.dispose();
      }
      await reader.close();
      tf.dispose([input, before, after]);
      peft.dispose();
    },
  );
});

const IN = 24;
const OUT = 16;

/** A seeded `[out, in]` weight of rank `rank` plus `noise`·N(0, 1). */
function lowRankWeight(seed: number, rank: number, noise: number): Float32Array {
  const rng = new Rng(seed);
  const u = Float64Array.from({ length: OUT * rank }, () => rng.normal());
  const v = Float64Array.from({ length: rank * IN }, () => rng.normal());
  const w = matmul(u, v, OUT, rank, IN);
  return Float32Array.from(w, (x) => x * 0.1 + noise * rng.normal());
}

const opts = (over: Partial<LoraAdapterOptions>): LoraAdapterOptions => ({
  r: 4,
  loraAlpha: 8,
  useRslora: false,
  useDora: false,
  loraDropout: 0,
  initLoraWeights: true,
  rng: new Rng(7),
  trainable: true,
  ...over,
});

const input = () =>
  tf.tensor2d(
    Float32Array.from({ length: 5 * IN }, (_, i) => Math.cos(i * 0.7)),
    [5, IN],
  );

describe('pissa_niter_<n> (randomized SVD with the seeded Rng)', () => {
  it.each([
    ['pissa_niter_2', 4],
    ['pissa_niter_4', 3],
  ] as const)('%s, r = %i: output equals the base; recovers a rank-r weight; A rows / B columns orthogonal; seeded', async (init, r) => {
    const w = lowRankWeight(3, r, 0);
    const ref = Linear.fromTorch(w, OUT, IN);
    const layer = LoraLinear.fromBase(Linear.fromTorch(w, OUT, IN), 'p', opts({ r, initLoraWeights: init as InitLoraWeights }));
    const x = input();
    await expectTensorsClose(layer.apply(x), ref.apply(x), { rtol: 1e-5, atol: 1e-5 });
    const { a, b } = await layer.toTorch('p');
    expect([a.length, b.length]).toEqual([r * IN, OUT * r]);
    // Exact rank r: s·B·A reproduces W and the residual vanishes.
    const s = layer.scaling('p');
    const delta = Float32Array.from(matmul(b, a, OUT, r, IN), (v) => v * s);
    await expectTensorsClose(tf.tensor2d(delta, [OUT, IN]), w, { rtol: 1e-4, atol: 1e-5 });
    expect((await tf.max(tf.abs(layer.base.denseWeight())).data())[0]).toBeLessThan(1e-5);
    // A Aᵀ and Bᵀ B are both diag(S / s).
    const aat = matmul(
      a,
      Float64Array.from({ length: IN * r }, (_, k) => a[(k % r) * IN + Math.floor(k / r)] as number),
      r,
      IN,
      r,
    );
    const btb = matmul(
      Float64Array.from({ length: r * OUT }, (_, k) => b[(k % OUT) * r + Math.floor(k / OUT)] as number),
      b,
      r,
      OUT,
      r,
    );
    for (let i = 0; i < r; i++)
      for (let j = 0; j < r; j++) {
        const [p, q] = [aat[i * r + j] as number, btb[i * r + j] as number];
        if (i === j) expect(Math.abs(p - q)).toBeLessThan(1e-4 * Math.abs(p));
        else expect(Math.max(Math.abs(p), Math.abs(q))).toBeLessThan(1e-4 * Math.abs(aat[0] as number));
      }
    for (let i = 1; i < r; i++) expect(aat[i * r + i] as number).toBeLessThanOrEqual((aat[(i - 1) * r + i - 1] as number) * (1 + 1e-6));
    // Deterministic for the seed.
    const again = LoraLinear.fromBase(Linear.fromTorch(w, OUT, IN), 'p', opts({ r, initLoraWeights: init as InitLoraWeights }));
    expect(Array.from((await again.toTorch('p')).a)).toEqual(Array.from(a));
    tf.dispose([x]);
    layer.dispose();
    again.dispose();
    ref.dispose();
  });

  it('on a full-rank weight: output equals the base and the residual is no smaller than the exact SVD one', async () => {
    const w = lowRankWeight(5, 8, 0.05);
    const frob = async (layer: LoraLinear) => (await tf.sum(tf.square(layer.base.denseWeight())).data())[0] as number;
    const exact = LoraLinear.fromBase(Linear.fromTorch(w, OUT, IN), 'e', opts({ initLoraWeights: 'pissa' }));
    const approx = LoraLinear.fromBase(Linear.fromTorch(w, OUT, IN), 'n', opts({ initLoraWeights: 'pissa_niter_2' }));
    const ref = Linear.fromTorch(w, OUT, IN);
    const x = input();
    await expectTensorsClose(approx.apply(x), ref.apply(x), { rtol: 1e-5, atol: 1e-5 });
    const [e, n] = [await frob(exact), await frob(approx)];
    expect(n).toBeGreaterThanOrEqual(e * (1 - 1e-5)); // Eckart–Young: the exact truncation is optimal
    expect(n).toBeLessThan(e * 1.5);
    tf.dispose([x]);
    exact.dispose();
    approx.dispose();
    ref.dispose();
  });
});

describe('PiSSA / OLoRA guards', () => {
  // The refusal on a quantized (lossy) base is tested in @lora/quant (pissa-olora-guard.test.ts),
  // which owns the NF4 layer; peft must not depend on quant.
  it('refuses r > min(in, out) and leaves the base untouched', async () => {
    const w = lowRankWeight(9, 6, 0.01);
    const dense = new LoraLinear(Linear.fromTorch(w, OUT, IN));
    expect(() => dense.addAdapter('big', opts({ r: OUT + 1, initLoraWeights: 'olora' }))).toThrow(/needs `r` ≤ min\(in, out\) = 16/);
    expect(dense.adapterNames()).toEqual([]);
    dense.dispose();
  });
});
