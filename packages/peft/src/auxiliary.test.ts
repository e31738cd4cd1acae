// modules_to_save and trainable_token_indices beside LoRA: what trains, gradients on the active
// backend (wasm by default: no UnsortedSegmentSum there), disable/unload/merge, save/load round trip.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { variableGradsLean } from '@lora/models/internal';
import { expectTensorsClose, randomCausalLM, setupTestBackend } from '@lora/models/test';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loraConfig, parseLoraConfig } from './config/lora-config.js';
import { loadAdapterWeights } from './io/load.js';
import { getPeftModel, loadPeftModel } from './peft-model.js';

beforeAll(async () => {
  await setupTestBackend();
});

const IDS = [
  [1, 5, 9, 5, 7, 3],
  [2, 9, 9, 4, 6, 8],
];
const ids = () => tf.tensor2d(IDS.flat(), [2, 6], 'int32');
const loss = (logits: tf.Tensor3D) => tf.mean(tf.square(logits)) as tf.Scalar;

describe.each(['llama', 'qwen3', 'gemma3_text'] as const)('trainable tokens on %s', (type) => {
  it('trains only the listed rows (and, tied, their lm_head columns); saves and reloads them', async () => {
    const model = await randomCausalLM(type, { seed: 3 });
    const tied = model.config.tieWordEmbeddings;
    const input = ids();
    const base = model.forward(input);
    const originalEmbedding = model.embeddingModule().get();
    const originalHead = model.lmHeadModule().get();
    const peft = getPeftModel(
      model,
      loraConfig({ baseModelNameOrPath: 'tiny-random', r: 2, targetModules: ['q_proj'], trainableTokenIndices: [9, 5, 40] }),
    );
    const start = peft.forward(input);
    // The rows start as the original rows: the first forward is the base model's (exactly on
    // wasm/cpu/tensorflow; webgpu's shaders may order the sums of the two paths differently).
    await expectTensorsClose(start, base, { rtol: 0, atol: tf.getBackend() === 'webgpu' ? 1e-5 : 0 });
    const vars = peft.trainableVariables();
    const delta = vars.find((v) => v.shape[0] === 3 && v.shape[1] === model.config.hiddenSize) as tf.Variable;
    expect(delta).toBeDefined();
    // Gradient by variableGradsLean equals finite differences of the loss along a random direction.
    const { value, grads } = variableGradsLean(() => loss(peft.forward(input)), [delta]);
    const g = grads[delta.name] as tf.Tensor2D;
    // Reads are async: webgpu has no dataSync.
    const read = async (t: tf.Tensor): Promise<number> => {
      const v = (await t.data())[0] as number;
      t.dispose();
      return v;
    };
    expect(await read(tf.tidy(() => tf.abs(g).sum()))).toBeGreaterThan(0);
    const dir = tf.randomNormal(delta.shape, 0, 1, 'float32', 1);
    const eps = 5e-4;
    const orig = delta.clone();
    const at = (s: number) =>
      read(
        tf.tidy(() => {
          delta.assign(tf.add(orig, tf.mul(dir, s)));
          return loss(peft.forward(input));
        }),
      );
    const numeric = ((await at(eps)) - (await at(-eps))) / (2 * eps);
    const analytic = await read(tf.tidy(() => tf.sum(tf.mul(g, dir))));
    expect(Math.abs(numeric - analytic)).toBeLessThan(2e-3 * Math.max(1, Math.abs(analytic)));
    // Move the rows; only the logits of rows holding ids 5/9 (and, tied, every row's columns 5/9/40) change.
    tf.tidy(() => delta.assign(tf.add(orig, tf.mul(dir, 0.5))));
    const moved = peft.forward(input);
    const diff = tf.tidy(() => tf.abs(tf.sub(moved, base)));
    const col = (await diff.array()) as number[][][];
    diff.dispose();
    // Position 0 (id 1, attending to itself only) keeps its hidden state: its logits change only
    // in the trained columns of a tied head.
    const row0 = col[0]?.[0] as number[];
    row0.forEach((d, j) => expect(d > 0).toBe(tied && [5, 9, 40].includes(j)));
    expect(Math.max(...col.flat(2))).toBeGreaterThan(1e-3);
    // disableAdapter runs the base exactly.
    const off = peft.disableAdapter(() => peft.forward(input));
    await expectTensorsClose(off, base, { rtol: 0, atol: 0 });
    // Save, reload onto a fresh model: same logits; the file holds the [3, hidden] rows.
    const dir2 = await mkdtemp(join(tmpdir(), 'lora-tokens-'));
    try {
      await peft.saveAdapter(dir2);
      const again = await loadPeftModel(await randomCausalLM(type, { seed: 3 }), dir2);
      expect([...again.auxiliaryLayers().trainableTokens.keys()]).toEqual(['model.embed_tokens']);
      const reloaded = again.forward(input);
      await expectTensorsClose(reloaded, moved, { rtol: 0, atol: 0 });
      const merged = await again.mergeAndUnload();
      const mergedLogits = merged.forward(input);
      await expectTensorsClose(mergedLogits, moved, { rtol: 1e-5, atol: 1e-5 });
      tf.dispose([reloaded, mergedLogits]);
      merged.dispose();
    } finally {
      await rm(dir2, { recursive: true, force: true });
    }
    tf.dispose([start, value, g, dir, orig, moved, off]);
    // unload frees the rows and puts the original modules back.
    peft.unload();
    expect(delta.isDisposed).toBe(true);
    expect(model.embeddingModule().get()).toBe(originalEmbedding);
    expect(model.lmHeadModule().get()).toBe(originalHead);
    const back = model.forward(input);
    await expectTensorsClose(back, base, { rtol: 0, atol: 0 });
    tf.dispose([back, base, input]);
    model.dispose();
  });
});

describe('modules_to_save', () => {
  it.each(['llama', 'qwen3'] as const)('%s: trains full copies of embed_tokens and lm_head; the originals stay frozen', async (type) => {
    const model = await randomCausalLM(type, { seed: 4 });
    const input = ids();
    const base = model.forward(input);
    const peft = getPeftModel(
      model,
      loraConfig({ baseModelNameOrPath: 'tiny-random', r: 2, targetModules: ['v_proj'], modulesToSave: ['embed_tokens', 'lm_head'] }),
    );
    const aux = peft.auxiliaryLayers();
    expect([...aux.modulesToSave.keys()].sort()).toEqual(['lm_head', 'model.embed_tokens']);
    const { vocabSize: v, hiddenSize: h } = model.config;
    const copies = peft.trainableVariables().filter((x) => x.size === v * h);
    expect(copies).toHaveLength(2);
    const { value, grads } = variableGradsLean(() => loss(peft.forward(input)), copies);
    for (const c of copies) {
      const g = grads[c.name] as tf.Tensor;
      expect((await tf.abs(g).sum().data())[0]).toBeGreaterThan(0);
      c.assign(tf.add(c, tf.mul(g, -10)));
    }
    const after = peft.forward(input);
    expect((await tf.abs(tf.sub(after, base)).max().data())[0]).toBeGreaterThan(1e-4);
    const off = peft.disableAdapter(() => peft.forward(input));
    await expectTensorsClose(off, base, { rtol: 0, atol: 0 });
    const dir = await mkdtemp(join(tmpdir(), 'lora-mts-'));
    try {
      await peft.saveAdapter(dir);
      const again = await loadPeftModel(await randomCausalLM(type, { seed: 4 }), dir, { isTrainable: true });
      const reloaded = again.forward(input);
      await expectTensorsClose(reloaded, after, { rtol: 0, atol: 0 });
      expect(again.trainableVariables().filter((x) => x.size === v * h)).toHaveLength(2);
      tf.dispose(reloaded);
      again.dispose();
      // Resume: loading into the live trainable copies assigns in place (an optimizer keeps its variables).
      const live = peft.trainableVariables();
      for (const c of copies) c.assign(tf.zerosLike(c));
      await loadAdapterWeights(dir, peft.loraLayers(), 'default', { auxiliary: peft.auxiliaryLayers('default'), trainable: true });
      expect(peft.trainableVariables()).toEqual(live);
      const resumed = peft.forward(input);
      await expectTensorsClose(resumed, after, { rtol: 0, atol: 0 });
      resumed.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    tf.dispose([value, ...Object.values(grads), after, off, base, input]);
    peft.dispose();
  });

  it('refuses a module both LoRA-targeted and saved, unknown names, and trainable rows of a saved embedding', async () => {
    const model = await randomCausalLM('llama', { seed: 5 });
    expect(() => getPeftModel(model, loraConfig({ targetModules: ['lm_head'], modulesToSave: ['lm_head'] }))).toThrow(/both a LoRA target/);
    const fresh = await randomCausalLM('llama', { seed: 5 });
    expect(() => getPeftModel(fresh, loraConfig({ targetModules: ['q_proj'], modulesToSave: ['score'] }))).toThrow(
      /`score` matches no module/,
    );
    expect(() => loraConfig({ modulesToSave: ['embed_tokens'], trainableTokenIndices: [1] })).toThrow(/is in both `modules_to_save`/);
    const other = await randomCausalLM('llama', { seed: 5 });
    expect(() => getPeftModel(other, loraConfig({ targetModules: ['q_proj'], trainableTokenIndices: [70] }))).toThrow(
      /outside the vocabulary/,
    );
    expect(() => getPeftModel(other, loraConfig({ targetModules: ['q_proj'], trainableTokenIndices: { lm_head: [1] } }))).toThrow(
      /input embedding only/,
    );
    const tied = await randomCausalLM('qwen3', { seed: 5 });
    expect(() =>
      getPeftModel(tied, loraConfig({ targetModules: ['q_proj'], modulesToSave: ['lm_head'], trainableTokenIndices: [1] })),
    ).toThrow(/lm_head is both in `modulesToSave` and `trainableTokenIndices`/);
    // Nothing was injected: the model takes a valid config afterwards.
    getPeftModel(tied, loraConfig({ targetModules: ['q_proj'], trainableTokenIndices: [1] })).dispose();
    for (const m of [model, fresh, other]) m.dispose();
  });
});

describe('adapter_config.json fields', () => {
  it('reads modules_to_save and both forms of trainable_token_indices; rejects repeats and empty lists', () => {
    const file = { file: 'adapter_config.json' };
    const a = parseLoraConfig(JSON.stringify({ modules_to_save: ['lm_head'], trainable_token_indices: [3, 1] }), file);
    expect(a.modulesToSave).toEqual(['lm_head']);
    expect(a.trainableTokenIndices).toEqual([3, 1]);
    const b = parseLoraConfig(JSON.stringify({ trainable_token_indices: { embed_tokens: [2] } }), file);
    expect(b.trainableTokenIndices).toEqual({ embed_tokens: [2] });
    expect(() => parseLoraConfig(JSON.stringify({ trainable_token_indices: [1, 1] }), file)).toThrow(/repeats a token index/);
    expect(() => parseLoraConfig(JSON.stringify({ trainable_token_indices: [] }), file)).toThrow(/lists no token index/);
    expect(() => parseLoraConfig(JSON.stringify({ trainable_token_indices: [-1] }), file)).toThrow(/trainable_token_indices/);
  });
});
