// PEFT `bias` training, LoRA on lm_head and LoRA on embed_tokens beyond the golden files
// (parity-features.test.ts): which variables train, gradients, PEFT's errors and warnings, base
// weights that differ.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '@lora/models';
import { Linear, SafetensorsReader, serializeSafetensors } from '@lora/models/internal';
import { expectTensorsClose, setupTestBackend } from '@lora/models/test';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loraConfig } from './config/lora-config.js';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME } from './io/format.js';
import { LoraEmbedding } from './layers/lora-embedding.js';
import type { LoraLinear } from './layers/lora-linear.js';
import { BiasLinear } from './layers/trainable-bias.js';
import { saveMergedModel } from './merge.js';
import { getPeftModel, loadPeftModel } from './peft-model.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures');
const BIAS_BASE = join(FIXTURES, 'peft/features/tiny-llama-bias');
let tmp = '';

beforeAll(async () => {
  await setupTestBackend();
  tmp = await mkdtemp(join(tmpdir(), 'lora-peft-features-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const ids = () => tf.tensor2d([1, 5, 9, 33, 2, 17, 40, 63], [1, 8], 'int32');

describe('bias training (PEFT `bias`)', () => {
  it('"lora_only" trains the biases of adapted modules, "all" every bias; gradients reach them', async () => {
    const { model } = await loadModel(BIAS_BASE);
    const peft = getPeftModel(
      model,
      loraConfig({ baseModelNameOrPath: 'tiny-random', r: 2, targetModules: ['q_proj'], bias: 'lora_only' }),
    );
    // 2 layers × (lora_A, lora_B, q_proj bias)
    expect(peft.trainableVariables()).toHaveLength(6);
    peft.dispose();

    const { model: m2 } = await loadModel(BIAS_BASE);
    const all = getPeftModel(m2, loraConfig({ baseModelNameOrPath: 'tiny-random', r: 2, targetModules: ['q_proj'], bias: 'all' }));
    // 2 layers × (lora_A, lora_B, 7 biases)
    expect(all.trainableVariables()).toHaveLength(18);
    expect(all.linearModules().filter((s) => s.get() instanceof BiasLinear)).toHaveLength(12);
    const x = ids();
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(all.forward(x))) as tf.Scalar, all.trainableVariables());
    const norms = await Promise.all(Object.values(grads).map(async (g) => (await tf.norm(g).data())[0] as number));
    expect(norms.filter((n) => n > 0)).toHaveLength(16); // 14 biases + 2 lora_B (B = 0 at init: lora_A gets none)
    tf.dispose([value, x, ...Object.values(grads)]);

    const warnings: string[] = [];
    all.disableAdapter(() => undefined, { onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([
      "Careful, disabling adapter layers with bias configured to be 'all' does not produce the same output as the base model would without adaption.",
    ]);
    expect(() => all.addAdapter('second', loraConfig({ targetModules: ['v_proj'], bias: 'lora_only' }))).toThrow(
      "LoraModel supports only 1 adapter with bias. When using multiple adapters, set bias to 'none' for all adapters.",
    );
    // Unloading keeps the trained biases in the base (PEFT changes them in place) and leaves plain Linears.
    const q = all.linearModules()[0]?.get() as BiasLinear | LoraLinear;
    const bias = q.bias as tf.Tensor1D;
    tf.tidy(() => (bias as unknown as tf.Variable).assign(tf.onesLike(bias)));
    const base = all.unload();
    const slots = base.linearModules();
    expect(slots.every((s) => s.get() instanceof Linear)).toBe(true);
    const first = slots[0]?.get().bias as tf.Tensor1D;
    expect(Array.from(await first.data())).toEqual(Array(32).fill(1));
    base.dispose();
  });

  it('on a model without biases `bias` changes nothing but the config (as PEFT: no bias keys saved)', async () => {
    const { model } = await loadModel(join(FIXTURES, 'tiny-llama'));
    const peft = getPeftModel(model, loraConfig({ baseModelNameOrPath: 'tiny-random', r: 2, targetModules: ['q_proj'], bias: 'all' }));
    expect(peft.trainableVariables()).toHaveLength(6);
    const dir = join(tmp, 'no-bias');
    await peft.saveAdapter(dir);
    const reader = await SafetensorsReader.open(join(dir, ADAPTER_WEIGHTS_NAME));
    expect(reader.keys().every((k) => /\.lora_[AB]\.weight$/.test(k))).toBe(true);
    await reader.close();
    expect(JSON.parse(await readFile(join(dir, ADAPTER_CONFIG_NAME), 'utf8')).bias).toBe('all');
    peft.dispose();
  });

  it('a saved bias adapter needs every bias key; a bias key without `bias` is refused', async () => {
    const dir = join(FIXTURES, 'peft/features/llama-bias-all');
    const broken = join(tmp, 'missing-bias');
    await mkdir(broken, { recursive: true });
    await copyFile(join(dir, ADAPTER_CONFIG_NAME), join(broken, ADAPTER_CONFIG_NAME));
    const reader = await SafetensorsReader.open(join(dir, ADAPTER_WEIGHTS_NAME));
    const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    for (const key of reader.keys()) {
      if (key.endsWith('layers.1.mlp.up_proj.bias')) continue;
      const t = await reader.get(key);
      tensors[key] = { dtype: 'F32', shape: [...reader.shape(key)], data: t.data as Float32Array };
    }
    await reader.close();
    await writeFile(join(broken, ADAPTER_WEIGHTS_NAME), serializeSafetensors(tensors, { metadata: { format: 'pt' } }));
    const { model } = await loadModel(BIAS_BASE);
    await expect(loadPeftModel(model, broken)).rejects.toThrow(/layers\.1\.mlp\.up_proj\.bias.*missing tensor for bias/);
    // `model` is left as it was: no wrappers.
    expect(model.linearModules().every((s) => s.get() instanceof Linear)).toBe(true);

    const config = JSON.parse(await readFile(join(dir, ADAPTER_CONFIG_NAME), 'utf8')) as Record<string, unknown>;
    await writeFile(join(broken, ADAPTER_CONFIG_NAME), JSON.stringify({ ...config, bias: 'none' }));
    await expect(loadPeftModel(model, broken)).rejects.toThrow(/a bias tensor, but the adapter config has `bias` "none"/);
    model.dispose();
  });
});

describe('LoRA on lm_head', () => {
  it('a saved base weight that differs is loaded into the head, for a tied model into the shared table (as PEFT)', async () => {
    for (const [name, base, tied] of [
      ['llama-lm-head', 'tiny-llama', false],
      ['qwen3-lm-head-tied', 'tiny-qwen3', true],
    ] as const) {
      const dir = join(FIXTURES, 'peft/features', name);
      const changed = join(tmp, `${name}-changed`);
      await mkdir(changed, { recursive: true });
      await copyFile(join(dir, ADAPTER_CONFIG_NAME), join(changed, ADAPTER_CONFIG_NAME));
      const reader = await SafetensorsReader.open(join(dir, ADAPTER_WEIGHTS_NAME));
      const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
      for (const key of reader.keys()) {
        const data = (await reader.get(key)).data as Float32Array;
        tensors[key] = {
          dtype: 'F32',
          shape: [...reader.shape(key)],
          data: key.endsWith('lm_head.base_layer.weight') ? data.map((v) => v * 2) : data,
        };
      }
      await reader.close();
      await writeFile(join(changed, ADAPTER_WEIGHTS_NAME), serializeSafetensors(tensors, { metadata: { format: 'pt' } }));
      const { model } = await loadModel(join(FIXTURES, base));
      if (tied) {
        // PEFT loads it into the table lm_head and embed_tokens share: both change (with a warning here).
        const original = model.embeddingModule().get().denseWeight();
        const warnings: string[] = [];
        const peft = await loadPeftModel(model, changed, { onWarning: (m) => warnings.push(m) });
        expect(warnings.at(-1)).toMatch(/differs from the model's; loaded, as PEFT does, into the table embed_tokens and lm_head share/);
        const table = peft.embeddingModule().get().denseWeight();
        const head = tf.transpose((peft.lmHeadModule().get() as LoraLinear).base.denseWeight());
        const doubled = tf.mul(original, 2);
        await expectTensorsClose(table, Array.from(await doubled.data()), { rtol: 0, atol: 0 });
        await expectTensorsClose(head, Array.from(await doubled.data()), { rtol: 0, atol: 0 });
        const x = ids();
        const logits = peft.forward(x);
        expect(logits.shape).toEqual([1, 8, 256]);
        tf.dispose([original, table, head, doubled, x, logits]);
        peft.dispose();
        continue;
      }
      const x = ids();
      const before = model.forward(x);
      const peft = await loadPeftModel(model, changed, { onWarning: () => {} });
      // The head's base weight doubled: with the adapter disabled, logits are exactly twice the base's.
      const disabled = peft.disableAdapter(() => peft.forward(x));
      const doubled = tf.mul(before, 2);
      await expectTensorsClose(disabled, Array.from(await doubled.data()), { rtol: 1e-5, atol: 1e-5 });
      doubled.dispose();
      tf.dispose([x, before, disabled]);
      peft.dispose();
    }
  });

  it('trains the adapter of a tied head (its variables are the model’s trainable variables)', async () => {
    const { model } = await loadModel(join(FIXTURES, 'tiny-qwen3'));
    const warnings: string[] = [];
    const peft = getPeftModel(model, loraConfig({ baseModelNameOrPath: 'tiny-random', r: 2, targetModules: ['lm_head'] }), {
      onWarning: (m) => warnings.push(m),
    });
    expect(warnings[0]).toMatch(/^Model has `tie_word_embeddings=True` and a tied layer is part of the adapter/);
    expect(peft.trainableVariables()).toHaveLength(2);
    expect(model.linearModules().map((s) => s.path)).not.toContain('lm_head');
    peft.dispose();
  });
});

describe('LoRA on embed_tokens', () => {
  it('trains lora_embedding_A / B with a scatter-add gradient (no leaks); merges, unmerges and unloads', async () => {
    const { model } = await loadModel(join(FIXTURES, 'tiny-llama'));
    const x = ids();
    const before = model.forward(x);
    const peft = getPeftModel(
      model,
      loraConfig({ baseModelNameOrPath: 'tiny-random', r: 2, loraAlpha: 4, targetModules: ['embed_tokens'] }),
    );
    const embedding = peft.loraEmbedding() as LoraEmbedding;
    expect(embedding).toBeInstanceOf(LoraEmbedding);
    // A = 0, B ~ N(0, 1): step 0 is the base model.
    const start = peft.forward(x);
    await expectTensorsClose(start, Array.from(await before.data()), { rtol: 0, atol: 0 });
    const vars = peft.trainableVariables();
    expect(vars).toEqual([embedding.weights('default').a, embedding.weights('default').b]);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(peft.forward(x))) as tf.Scalar, vars);
      return { value, grads: vars.map((v) => grads[v.name] as tf.Tensor) };
    };
    const first = step();
    const gradA = (await (first.grads[0] as tf.Tensor).array()) as number[][];
    const used = new Set([1, 5, 9, 33, 2, 17, 40, 63]);
    gradA.forEach((row, token) => expect(row.some((v) => v !== 0)).toBe(used.has(token)));
    tf.dispose([first.value, ...first.grads]);
    const count = tf.memory().numTensors;
    const again = step();
    tf.dispose([again.value, ...again.grads]);
    expect(tf.memory().numTensors).toBe(count);

    tf.tidy(() => embedding.weights('default').a.assign(tf.randomNormal([256, 2], 0, 0.5, 'float32', 3)));
    const adapted = peft.forward(x);
    await peft.merge();
    const merged = peft.forward(x);
    await expectTensorsClose(merged, Array.from(await adapted.data()), { rtol: 1e-5, atol: 1e-5 });
    await peft.unmerge();
    const disabled = peft.disableAdapter(() => peft.forward(x));
    // (W + ΔW) − ΔW rounds: within float32 error of the base, as in PEFT.
    await expectTensorsClose(disabled, Array.from(await before.data()), { rtol: 1e-5, atol: 1e-5 });
    const base = peft.unload();
    expect(base.embeddingModule().get()).not.toBeInstanceOf(LoraEmbedding);
    tf.dispose([x, before, start, adapted, merged, disabled]);
    base.dispose();
  });

  it('mergeAndUnload + saveMergedModel write the merged table (logits kept); a tied table is refused', async () => {
    const dir = join(FIXTURES, 'peft/features/llama-embed');
    const { model } = await loadModel(join(FIXTURES, 'tiny-llama'));
    const peft = await loadPeftModel(model, dir);
    const x = ids();
    const adapted = peft.forward(x);
    const merged = await peft.mergeAndUnload();
    const out = join(tmp, 'merged-embed');
    await saveMergedModel(merged, out, { base: join(FIXTURES, 'tiny-llama') });
    merged.dispose();
    const { model: reloaded } = await loadModel(out);
    const logits = reloaded.forward(x);
    await expectTensorsClose(logits, Array.from(await adapted.data()), { rtol: 1e-5, atol: 2e-5 });
    tf.dispose([x, adapted, logits]);
    reloaded.dispose();

    const { model: tied } = await loadModel(join(FIXTURES, 'tiny-qwen3'));
    const tiedPeft = getPeftModel(tied, loraConfig({ targetModules: ['embed_tokens'] }), { onWarning: () => {} });
    await expect(saveMergedModel(tiedPeft, join(tmp, 'merged-tied'), { base: join(FIXTURES, 'tiny-qwen3') })).rejects.toThrow(
      /an adapter on `model.embed_tokens`, whose table lm_head shares/,
    );
    tiedPeft.dispose();
  });

  it('refuses DoRA on an embedding and merging a tied table', async () => {
    const { model } = await loadModel(join(FIXTURES, 'tiny-llama'));
    expect(() => getPeftModel(model, loraConfig({ targetModules: ['embed_tokens'], useDora: true }))).toThrow(
      /DoRA on an embedding \(model.embed_tokens\) is not supported/,
    );
    model.dispose();
    const { model: tied } = await loadModel(join(FIXTURES, 'tiny-qwen3'));
    const peft = getPeftModel(tied, loraConfig({ targetModules: ['embed_tokens'] }), { onWarning: () => {} });
    await expect(peft.merge()).rejects.toThrow(/tied_target_modules=\['embed_tokens'\]/);
    peft.dispose();
  });
});
