// The bnb 4-bit Hugging Face fixture (fixtures/quant/tiny-llama-nf4, from tools/parity/quant/make_quant.py).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { FileFormatError } from '@lora/core';
import { loadModel } from '@lora/models';
import { openWeights, SafetensorsReader } from '@lora/models/internal';
import { compareArrays, expectTensorsClose, randomCausalLM, setupTestBackend } from '@lora/models/test';
import { beforeAll, describe, expect, it } from 'vitest';
import { readQuantState, type RawTensorSource } from './format.js';
import { Nf4Linear } from './nf4-linear.js';
import { loadQuantizedModel, quantizeModel, saveQuantizedModel } from './quantize-model.js';
import { FIXTURES } from './test/fixtures.js';

const BNB_DIR = join(FIXTURES, 'quant', 'tiny-llama-nf4');
const FP32_DIR = join(FIXTURES, 'tiny-llama');

beforeAll(async () => {
  await setupTestBackend();
});

async function reference(): Promise<{ ids: tf.Tensor2D; logits: Float32Array; shape: number[] }> {
  const reader = await SafetensorsReader.open(join(BNB_DIR, 'reference.safetensors'));
  const ids = await reader.get('input_ids');
  const logits = await reader.get('logits');
  await reader.close();
  return {
    ids: tf.tensor2d(Int32Array.from(ids.data), ids.shape as [number, number], 'int32'),
    logits: logits.data as Float32Array,
    shape: [...logits.shape],
  };
}

describe('quantizeModel', () => {
  it('replaces every linear but lm_head; logits stay close to fp32; no tensor leak', async () => {
    const model = await randomCausalLM('llama', { overrides: { hidden_size: 64, intermediate_size: 128 } });
    const ids = tf.tensor2d([[3, 7, 9, 1, 4, 5]], [1, 6], 'int32');
    const dense = model.forward(ids);
    const paths = await quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: true });
    expect(paths).not.toContain('lm_head');
    expect(paths.length).toBe(14);
    const before = tf.memory().numTensors;
    const quant = model.forward(ids);
    const [q, d] = [await quant.data(), await dense.data()];
    const report = compareArrays(q, d);
    let dot = 0;
    let qq = 0;
    let dd = 0;
    for (let i = 0; i < d.length; i++) {
      dot += (q[i] as number) * (d[i] as number);
      qq += (q[i] as number) ** 2;
      dd += (d[i] as number) ** 2;
    }
    const cosine = dot / Math.sqrt(qq * dd);
    const scale = Math.max(...Array.from(d).map(Math.abs));
    console.log(
      `random tiny llama: NF4+DQ vs fp32 logits max abs err ${report.maxAbs.toExponential(2)} (max |logit| ${scale.toFixed(2)}), cosine ${cosine.toFixed(4)}`,
    );
    // Random std-0.2 weights in a 2-layer model: a sanity bound; exactness is checked against bnb elsewhere.
    expect(cosine).toBeGreaterThan(0.9);
    tf.dispose([quant]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([dense, ids]);
    model.dispose();
  });
});

describe('bitsandbytes 4-bit checkpoint', () => {
  it('loads the transformers-saved NF4+DQ tiny Llama; logits match the dequantized torch model within 1e-5', async () => {
    const { model, quantizedPaths } = await loadQuantizedModel(BNB_DIR);
    expect(quantizedPaths.length).toBe(21);
    expect(
      model
        .linearModules()
        .find((s) => s.path === 'lm_head')
        ?.get(),
    ).not.toBeInstanceOf(Nf4Linear);
    const ref = await reference();
    const logits = model.forward(ref.ids);
    expect(logits.shape).toEqual(ref.shape);
    const report = await expectTensorsClose(logits, ref.logits, { rtol: 1e-5, atol: 1e-5 });
    console.log(`tiny-llama-nf4: max abs logit error vs torch ${report.maxAbs.toExponential(2)}`);
    tf.dispose([logits, ref.ids]);
    model.dispose();
  });

  it('quantizing fixtures/tiny-llama and saving gives the bnb file byte for byte (config.json too)', async () => {
    const { model } = await loadModel(FP32_DIR);
    await quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: true });
    const dir = await mkdtemp(join(tmpdir(), 'lora-quant-'));
    const source = await openWeights(FP32_DIR);
    try {
      await saveQuantizedModel(dir, model, { source, configText: await readFile(join(FP32_DIR, 'config.json'), 'utf8') });
      const ours = await readFile(join(dir, 'model.safetensors'));
      const theirs = await readFile(join(BNB_DIR, 'model.safetensors'));
      expect(ours.length).toBe(theirs.length);
      const differing = ours.reduce((n, b, i) => n + (b === theirs[i] ? 0 : 1), 0);
      console.log(`saved model.safetensors: ${differing} of ${ours.length} bytes differ from transformers+bnb`);
      expect(differing).toBe(0);
      expect(ours.equals(theirs)).toBe(true);
      expect(await readFile(join(dir, 'config.json'), 'utf8')).toBe(await readFile(join(BNB_DIR, 'config.json'), 'utf8'));
      // What we save loads back and computes the same logits as the model in memory.
      const { model: again } = await loadQuantizedModel(dir);
      const ids = tf.tensor2d([[5, 9, 2, 7]], [1, 4], 'int32');
      const a = model.forward(ids);
      const b = again.forward(ids);
      await expectTensorsClose(b, a, { rtol: 0, atol: 0 });
      tf.dispose([a, b, ids]);
      again.dispose();
    } finally {
      await source.close();
      await rm(dir, { recursive: true, force: true });
      model.dispose();
    }
  });

  it('keeps the multimodal layout of a Gemma3ForConditionalGeneration checkpoint (names, vision tower)', async () => {
    const base = join(FIXTURES, 'tiny-gemma3-mm');
    const { model } = await loadModel(base, { onWarning: () => {} });
    await quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: true });
    const dir = await mkdtemp(join(tmpdir(), 'lora-quant-mm-'));
    const source = await openWeights(base);
    try {
      await saveQuantizedModel(dir, model, { source, configText: await readFile(join(base, 'config.json'), 'utf8') });
      const reader = await SafetensorsReader.open(join(dir, 'model.safetensors'));
      const keys = reader.keys();
      await reader.close();
      // Every base tensor under its own name (quantized weights included), plus only bnb state keys.
      expect(source.keys().filter((k) => !keys.includes(k))).toEqual([]);
      expect(keys.filter((k) => !source.keys().includes(k)).every((k) => /\.weight\.(absmax|quant_map|nested_|quant_state)/.test(k))).toBe(
        true,
      );
      expect(keys).toContain('language_model.model.layers.0.self_attn.q_proj.weight.absmax');
      expect(keys.some((k) => k.startsWith('model.language_model.'))).toBe(false);
      const { model: again } = await loadQuantizedModel(dir);
      const ids = tf.tensor2d([[5, 9, 2, 7]], [1, 4], 'int32');
      const a = model.forward(ids);
      const b = again.forward(ids);
      await expectTensorsClose(b, a, { rtol: 0, atol: 0 });
      tf.dispose([a, b, ids]);
      again.dispose();
    } finally {
      await source.close();
      await rm(dir, { recursive: true, force: true });
      model.dispose();
    }
  });

  it('names the tensor on a malformed quant_state', async () => {
    const reader = await SafetensorsReader.open(join(BNB_DIR, 'model.safetensors'));
    const key = 'model.layers.0.self_attn.q_proj.weight';
    const broken = (
      patch: (name: string, raw: Awaited<ReturnType<RawTensorSource['getRaw']>>) => typeof raw | undefined,
    ): RawTensorSource => ({
      keys: () => reader.keys().filter((k) => patch(k, { dtype: 'U8', shape: [], bytes: new Uint8Array() }) !== undefined),
      getRaw: async (name) => patch(name, await reader.getRaw(name)) ?? (await reader.getRaw(name)),
    });
    const stateKey = `${key}.quant_state.bitsandbytes__nf4`;
    const badJson = broken((name, raw) =>
      name === stateKey ? { ...raw, bytes: new TextEncoder().encode('{"quant_type": "nf4", "blocksize": 64') } : raw,
    );
    await expect(readQuantState(badJson, key, 'model.safetensors')).rejects.toThrow(new RegExp(stateKey.replace(/\./g, '\\.')));
    const badBlock = broken((name, raw) =>
      name === stateKey
        ? { ...raw, bytes: new TextEncoder().encode('{"quant_type": "nf4", "blocksize": 48, "dtype": "float32", "shape": [64, 64]}') }
        : raw,
    );
    await expect(readQuantState(badBlock, key, 'model.safetensors')).rejects.toThrow(/blocksize 48/);
    const noNested = broken((name, raw) => (name === `${key}.nested_absmax` ? undefined : raw));
    const err = await readQuantState(noNested, key, 'model.safetensors').catch((e: unknown) => e);
    expect(FileFormatError.isInstance(err)).toBe(true);
    expect(String(err)).toContain(`${key}.nested_absmax`);
    await reader.close();
  });
});
