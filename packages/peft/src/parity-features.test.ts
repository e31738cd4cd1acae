// Golden parity with PEFT 0.21 for trained biases (`bias`), LoRA on lm_head (tied and untied) and
// LoRA on embed_tokens: adapters written by tools/parity/peft/make_peft_features.py load here with
// PEFT's logits and warnings, and adapters written here (fixtures/peft/features/from-lora/) load in
// PEFT with the same logits. Regenerate the from-lora adapters with LORA_WRITE_FIXTURES=1, then run
// make_peft_features.py from-lora.
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@lora/core';
import { loadModel } from '@lora/models';
import { expectTensorsClose, setupTestBackend } from '@lora/models/test';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type LoraConfigOptions, loraConfig, serializeLoraConfig } from './config/lora-config.js';
import { prepareBiases } from './inject/bias.js';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME } from './io/format.js';
import { serializeAdapterWeights } from './io/save.js';
import { getPeftModel, loadPeftModel } from './peft-model.js';

const ROOT = join(import.meta.dirname, '../../..');
const FIXTURES = join(ROOT, 'fixtures');
const FEATURES = join(FIXTURES, 'peft', 'features');

interface Reference {
  base: string;
  input_ids: number[][];
  logits_shape: [number, number, number];
  logits: number[];
  warnings: { inject?: string[]; save?: string[]; load: string[]; merge?: string[] };
}

const readRef = (dir: string) => JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
const ids = (ref: Reference) => tf.tensor2d(ref.input_ids.flat(), [ref.input_ids.length, (ref.input_ids[0] as number[]).length], 'int32');
const collector = () => {
  const seen: string[] = [];
  return { seen, onWarning: (m: string) => void (seen.includes(m) || seen.push(m)) };
};

beforeAll(async () => {
  await setupTestBackend();
});

/** PEFT-written cases and the LoraConfig options that reproduce them. */
const PEFT_CASES: Record<string, LoraConfigOptions> = {
  'llama-bias-all': { r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'], bias: 'all' },
  'llama-bias-lora-only-dora': { r: 4, loraAlpha: 8, targetModules: ['q_proj', 'o_proj', 'up_proj'], bias: 'lora_only', useDora: true },
  'llama-lm-head': { r: 4, loraAlpha: 8, targetModules: ['q_proj', 'lm_head'] },
  'qwen3-lm-head-tied': { r: 4, loraAlpha: 8, targetModules: ['v_proj', 'lm_head'] },
  'llama-embed': { r: 4, loraAlpha: 8, targetModules: ['embed_tokens', 'q_proj'] },
  'qwen3-embed-lm-head-tied': { r: 4, loraAlpha: 8, targetModules: ['embed_tokens', 'lm_head'] },
  'gemma3-embed-tied': { r: 4, loraAlpha: 8, targetModules: ['embed_tokens'], useRslora: true },
  // Trained on the table × 1.5: loading writes the saved base weight into the shared table, as PEFT.
  'qwen3-lm-head-tied-rescaled': { r: 4, loraAlpha: 8, targetModules: ['lm_head'] },
};

describe.each(Object.keys(PEFT_CASES))('PEFT → @lora: %s', (name) => {
  const dir = join(FEATURES, name);
  const ref = readRef(dir);

  it("logits match PEFT's; PEFT's warnings; files round-trip byte for byte; merge as PEFT (refused when tied)", async () => {
    const { model } = await loadModel(join(FIXTURES, ref.base));
    const load = collector();
    const peft = await loadPeftModel(model, dir, { onWarning: load.onWarning });
    // Ours says when a saved base weight replaces the model's (PEFT does it silently).
    const replaced = load.seen.filter((m) => m.includes('loaded, as PEFT does'));
    expect(replaced).toHaveLength(name.endsWith('-rescaled') ? 1 : 0);
    expect(load.seen.filter((m) => !replaced.includes(m))).toEqual(ref.warnings.load);
    const input = ids(ref);
    const logits = peft.forward(input);
    expect(logits.shape).toEqual(ref.logits_shape);
    const report = await expectTensorsClose(logits, ref.logits, { rtol: 1e-5, atol: 1e-5 });
    console.log(`features/${name}: max abs logit error vs PEFT ${report.maxAbs.toExponential(2)}`);

    const save = collector();
    const bytes = await serializeAdapterWeights(peft.loraLayers(), 'default', {
      model: peft.baseModel,
      config: peft.peftConfig(),
      onWarning: save.onWarning,
    });
    expect(save.seen).toEqual(ref.warnings.save);
    expect(Buffer.from(bytes).equals(readFileSync(join(dir, ADAPTER_WEIGHTS_NAME)))).toBe(true);
    expect(serializeLoraConfig(peft.peftConfig())).toBe(readFileSync(join(dir, ADAPTER_CONFIG_NAME), 'utf8'));

    if (peft.config.tieWordEmbeddings && (peft.loraLayers().has('lm_head') || peft.loraEmbedding() !== undefined)) {
      expect(ref.warnings.merge?.[0]).toMatch(/^Model with `tie_word_embeddings=True` and the tied_target_modules=/);
      await expect(peft.merge()).rejects.toThrow(/tie_word_embeddings=True/);
    } else {
      await peft.merge();
      const merged = peft.forward(input);
      await expectTensorsClose(merged, logits, { rtol: 1e-5, atol: 2e-5 });
      await peft.unmerge();
      merged.dispose();
    }
    tf.dispose([input, logits]);
    peft.dispose();
  });

  it("getPeftModel gives PEFT's injection warnings", async () => {
    const { model } = await loadModel(join(FIXTURES, ref.base));
    const inject = collector();
    const peft = getPeftModel(model, loraConfig(PEFT_CASES[name]), { onWarning: inject.onWarning });
    expect(inject.seen).toEqual(ref.warnings.inject);
    peft.dispose();
  });
});

/** Adapters this package writes for PEFT to read: random non-zero B (init false), random trained biases. */
const FROM_LORA: Record<string, { base: string; config: LoraConfigOptions }> = {
  'llama-bias-all': {
    base: 'peft/features/tiny-llama-bias',
    config: { r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'], bias: 'all', initLoraWeights: false },
  },
  'llama-lm-head-regex': {
    base: 'tiny-llama',
    config: { r: 4, loraAlpha: 8, targetModules: '.*\\.q_proj|lm_head', initLoraWeights: false },
  },
  'qwen3-lm-head-tied': {
    base: 'tiny-qwen3',
    config: { r: 4, loraAlpha: 8, targetModules: ['lm_head', 'q_proj'], initLoraWeights: false },
  },
  'llama-embed': { base: 'tiny-llama', config: { r: 4, loraAlpha: 8, targetModules: ['embed_tokens', 'v_proj'], initLoraWeights: false } },
  'gemma3-embed-tied': {
    base: 'tiny-gemma3',
    config: { r: 2, loraAlpha: 4, targetModules: ['embed_tokens', 'o_proj'], initLoraWeights: false },
  },
};

describe.each(Object.keys(FROM_LORA))('@lora → PEFT: %s', (name) => {
  const spec = FROM_LORA[name] as (typeof FROM_LORA)[string];
  const dir = join(FEATURES, 'from-lora', name);

  const build = async () => {
    const { model } = await loadModel(join(FIXTURES, spec.base));
    const peft = getPeftModel(model, loraConfig({ ...spec.config, baseModelNameOrPath: `fixtures/${spec.base}` }), {
      seed: 7,
      onWarning: () => {},
    });
    const rng = new Rng(11);
    for (const { variable } of prepareBiases(peft.baseModel, peft.peftConfig().bias, true)) {
      tf.tidy(() => variable.assign(tf.add(variable, tf.tensor1d(Float32Array.from({ length: variable.size }, () => rng.normal() * 0.1)))));
    }
    return peft;
  };

  it('writes the committed adapter bytes and matches the logits PEFT computed from them', async () => {
    const peft = await build();
    if (process.env.LORA_WRITE_FIXTURES === '1') {
      mkdirSync(dir, { recursive: true });
      await peft.saveAdapter(dir, 'default', { onWarning: () => {} });
      console.log(`wrote ${dir}; now run /opt/parity/bin/python tools/parity/peft/make_peft_features.py from-lora`);
    }
    const tmp = await mkdtemp(join(tmpdir(), 'lora-peft-'));
    try {
      await peft.saveAdapter(tmp, 'default', { onWarning: () => {} });
      for (const file of [ADAPTER_WEIGHTS_NAME, ADAPTER_CONFIG_NAME]) {
        expect(Buffer.from(await readFile(join(tmp, file))).equals(readFileSync(join(dir, file))), file).toBe(true);
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    const ref = readRef(dir);
    const input = ids(ref);
    const logits = peft.forward(input);
    const report = await expectTensorsClose(logits, ref.logits, { rtol: 1e-5, atol: 1e-5 });
    console.log(`features/from-lora/${name}: max abs logit error vs PEFT ${report.maxAbs.toExponential(2)}`);
    tf.dispose([input, logits]);
    peft.dispose();
  });
});
