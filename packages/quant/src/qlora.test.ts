// QLoRA: @lora/peft adapters on Nf4Linear bases — merging into NF4 (dequantize, add, requantize, as
// PEFT's bnb Linear4bit.merge) and training steps that leave the packed base bytes untouched.
import { join } from 'node:path';
import { Rng } from '@lora/core';
import { type CausalLM, loadModel } from '@lora/models';
import { compareArrays, expectTensorsClose, setupTestBackend } from '@lora/models/test';
import { getPeftModel, loraConfig, LoraLinear } from '@lora/peft';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { QuantState } from './format.js';
import { Nf4Linear, quantizeState } from './nf4-linear.js';
import { quantizeModel } from './quantize-model.js';
import { FIXTURES } from './test/fixtures.js';

const MERGE_WARNING = 'Merge lora module to 4-bit linear may get different generations due to rounding errors.';
const UNMERGE_WARNING = 'Unmerge lora module to 4-bit linear may get different generations due to rounding errors.';

beforeAll(async () => {
  await setupTestBackend();
});

function nf4Layers(model: CausalLM): Map<string, Nf4Linear> {
  const out = new Map<string, Nf4Linear>();
  for (const s of model.linearModules()) {
    let m = s.get();
    if (m instanceof LoraLinear) m = m.base;
    if (m instanceof Nf4Linear) out.set(s.path, m);
  }
  return out;
}

/** Causal-LM cross-entropy with one-hot targets (wasm has no gather gradient). */
function causalLmLoss(model: CausalLM, ids: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const [batch, seq] = ids.shape;
    const inputs = ids.slice([0, 0], [batch, seq - 1]) as tf.Tensor2D;
    const targets = ids.slice([0, 1], [batch, seq - 1]) as tf.Tensor2D;
    const logits = model.forward(inputs);
    const vocab = logits.shape[2];
    const logProbs = tf.logSoftmax(logits.reshape([-1, vocab]));
    const oneHot = tf.oneHot(targets.reshape([-1]) as tf.Tensor1D, vocab);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logProbs), 1))) as tf.Scalar;
  });
}

describe('merging LoRA into an NF4 base', () => {
  it('mergeAndUnload requantizes dequant(W) + ΔW with the same settings; logits stay close; PEFT warning once', async () => {
    const { model } = await loadModel(join(FIXTURES, 'tiny-llama'));
    const ids = tf.tensor2d(
      [
        [3, 17, 9, 1, 40, 5, 22, 8],
        [7, 7, 2, 31, 4, 11, 0, 6],
      ],
      [2, 8],
      'int32',
    );
    const dense = model.forward(ids);
    await quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: true });
    const quantLogits = model.forward(ids);
    // init_lora_weights=false: B is random and non-zero (kaiming-uniform), as in PEFT.
    const peft = getPeftModel(model, loraConfig({ r: 8, loraAlpha: 16, targetModules: 'all-linear', initLoraWeights: false }), { seed: 3 });
    const layers = [...peft.loraLayers()];
    expect(layers.length).toBe(nf4Layers(model).size);
    // What the merge must produce: bnb quantization of dequant(W) + s·AB, layer by layer.
    const expected = new Map<string, Uint8Array>();
    for (const [path, layer] of layers) {
      const base = layer.base as Nf4Linear;
      const w = tf.tidy(() => tf.transpose(layer.denseWeight()));
      expected.set(
        path,
        quantizeState((await w.data()) as Float32Array, [base.outFeatures, base.inFeatures], { blocksize: 64, doubleQuant: true }).packed,
      );
      w.dispose();
    }
    const adapterLogits = peft.forward(ids);
    const ratioTensor = tf.tidy(() => {
      const [, l] = layers[0] as [string, LoraLinear];
      const w = (l.base as Nf4Linear).denseWeight();
      return tf.div(tf.norm(l.deltaWeight('default')), tf.norm(w));
    });
    const ratio = (await ratioTensor.data())[0] as number;
    ratioTensor.dispose();
    const warnings: string[] = [];
    const merged = await peft.mergeAndUnload({ onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([MERGE_WARNING]);
    const after = nf4Layers(merged);
    expect(after.size).toBe(layers.length);
    for (const [path, layer] of after) {
      const state = await layer.quantState();
      expect(state.packed, `${path} packed`).toEqual(expected.get(path));
      expect(state.blocksize).toBe(64);
      expect(state.quantType).toBe('nf4');
      expect(state.nested, `${path} double quant kept`).toBeDefined();
    }
    const mergedLogits = merged.forward(ids);
    const err = compareArrays(await mergedLogits.data(), await adapterLogits.data());
    const quantErr = compareArrays(await quantLogits.data(), await dense.data());
    const adapterShift = compareArrays(await adapterLogits.data(), await quantLogits.data());
    console.log(
      `NF4 merge (tiny-llama, r 8, random B, ‖ΔW‖/‖W‖ ${ratio.toFixed(2)} in q_proj 0): merged vs adapter logits max abs ${err.maxAbs.toExponential(2)} ` +
        `(NF4 vs fp32 base ${quantErr.maxAbs.toExponential(2)}; the adapter moves logits by ${adapterShift.maxAbs.toExponential(2)})`,
    );
    // Requantizing adds one more round of NF4 noise (on blocks whose absmax grew with ΔW): the same
    // order as quantizing the base, and well below what the adapter changes.
    expect(err.maxAbs).toBeLessThan(3 * quantErr.maxAbs);
    expect(err.maxAbs).toBeLessThan(adapterShift.maxAbs);
    tf.dispose([ids, dense, quantLogits, adapterLogits, mergedLogits]);
    merged.dispose();
  });

  it('merge then unmerge of a zero adapter keeps the NF4 weights; unmerge warns as PEFT does', async () => {
    const { model } = await loadModel(join(FIXTURES, 'tiny-llama'));
    await quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: false });
    const before = new Map<string, QuantState>();
    for (const [p, l] of nf4Layers(model)) before.set(p, await l.quantState());
    const peft = getPeftModel(model, loraConfig({ targetModules: ['q_proj', 'down_proj'] }));
    const warnings: string[] = [];
    await peft.merge({ onWarning: (m) => warnings.push(m) });
    // Requantizing is asynchronous: a forward with adapters disabled cannot unmerge an NF4 base itself.
    const probe = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32');
    const count = tf.memory().numTensors;
    expect(() => peft.disableAdapter(() => peft.forward(probe))).toThrow(/merged into the Nf4Linear base.*await unmerge\(\)/);
    expect(tf.memory().numTensors).toBe(count);
    probe.dispose();
    await peft.unmerge({ onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([MERGE_WARNING, UNMERGE_WARNING]);
    for (const [path, layer] of nf4Layers(model)) {
      const state = await layer.quantState();
      const old = before.get(path);
      // B = 0: requantizing dequant(W) gives back the same codes and absmax (absmax is a code-±1 element).
      expect(state.packed, path).toEqual(old?.packed);
      expect(state.absmax, path).toEqual(old?.absmax);
    }
    const x = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32');
    const a = peft.forward(x);
    const b = peft.disableAdapter(() => peft.forward(x));
    await expectTensorsClose(a, b, { rtol: 0, atol: 0 });
    tf.dispose([x, a, b]);
    peft.dispose();
  });
});

const assets = process.env.LORA_ASSETS_DIR;

describe('QLoRA training step on stories260K', () => {
  it.skipIf(assets === undefined)(
    'Adam steps through Nf4Linear lower the loss; packed NF4 bytes unchanged; only LoRA variables change (needs LORA_ASSETS_DIR)',
    async () => {
      const { model } = await loadModel(join(assets as string, 'models', 'stories260K'));
      // dim 64, hidden 172, 5 layers, kv dim 32: every linear but the tied lm_head is quantizable (bnb
      // takes any element count; 172·64 = 172 blocks of 64).
      const quantized = await quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: true });
      expect(quantized.length).toBe(5 * 7);
      const bases = nf4Layers(model);
      const snapshot = new Map<string, { packed: Uint8Array; words: Int32Array; absmax: Float32Array }>();
      for (const [p, l] of bases) {
        snapshot.set(p, {
          packed: (await l.quantState()).packed,
          words: Int32Array.from((await l.words.data()) as Int32Array),
          absmax: Float32Array.from((await l.absmax.data()) as Float32Array),
        });
      }
      const peft = getPeftModel(model, loraConfig({ r: 8, loraAlpha: 16, targetModules: 'all-linear' }), { seed: 1 });
      expect(peft.loraLayers().size).toBe(35);
      const trainable = peft.trainableVariables();
      expect(trainable.length).toBe(70);
      const loraNames = new Set(trainable.map((v) => v.name));
      const variablesBefore = new Map<string, Float32Array>();
      for (const v of Object.values(tf.engine().registeredVariables))
        variablesBefore.set(v.name, Float32Array.from((await v.data()) as Float32Array));

      const rng = new Rng(42);
      const ids = tf.tensor2d(
        Int32Array.from({ length: 4 * 33 }, () => rng.nextInt(512)),
        [4, 33],
        'int32',
      );
      const optimizer = tf.train.adam(1e-2);
      const losses: number[] = [];
      const steps = 8;
      let tensorsAfterFirst = 0;
      for (let step = 0; step < steps; step++) {
        const loss = optimizer.minimize(() => causalLmLoss(peft, ids), true, trainable) as tf.Scalar;
        losses.push((await loss.data())[0] as number);
        loss.dispose();
        if (step === 0) tensorsAfterFirst = tf.memory().numTensors;
      }
      expect(tf.memory().numTensors).toBe(tensorsAfterFirst);
      const final = causalLmLoss(peft, ids);
      losses.push((await final.data())[0] as number);
      final.dispose();
      console.log(
        `QLoRA stories260K (NF4+DQ b64, LoRA r 8 all-linear, Adam 1e-2, batch 4×32): loss ${losses.map((l) => l.toFixed(4)).join(' → ')}`,
      );
      expect(losses[losses.length - 1]).toBeLessThan((losses[0] as number) - 0.05);

      for (const [path, layer] of nf4Layers(model)) {
        expect(layer, `${path} is still the same base`).toBe(bases.get(path));
        const old = snapshot.get(path);
        expect((await layer.quantState()).packed, `${path} packed`).toEqual(old?.packed);
        expect(await layer.words.data(), `${path} words`).toEqual(old?.words);
        expect(await layer.absmax.data(), `${path} absmax`).toEqual(old?.absmax);
      }
      let changed = 0;
      for (const v of Object.values(tf.engine().registeredVariables)) {
        const old = variablesBefore.get(v.name);
        if (old === undefined) continue; // optimizer moments
        const same = compareArrays((await v.data()) as Float32Array, old).maxAbs === 0;
        if (loraNames.has(v.name)) {
          if (!same) changed++;
        } else {
          expect(same, `${v.name} is not a LoRA variable and must not change`).toBe(true);
        }
      }
      expect(changed).toBe(trainable.length);
      optimizer.dispose();
      ids.dispose();
      peft.dispose();
    },
  );
});
