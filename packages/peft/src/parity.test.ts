// Golden parity with PEFT 0.21: adapters written by tools/parity/peft/make_peft.py load here with
// the same logits, and adapters written here (fixtures/peft/from-lora/) load in PEFT with the same
// logits. Regenerate the from-lora adapters with LORA_WRITE_FIXTURES=1 (then run make_peft.py from-lora).
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@lora/core';
import { loadModel } from '@lora/models';
import { expectTensorsClose, setupTestBackend } from '@lora/models/test';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loraConfig, serializeLoraConfig } from './config/lora-config.js';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME } from './io/format.js';
import { serializeAdapterWeights } from './io/save.js';
import { saveMergedModel } from './merge.js';
import { ModulesToSaveLinear } from './layers/modules-to-save.js';
import { getPeftModel, loadPeftModel } from './peft-model.js';

const ROOT = join(import.meta.dirname, '../../..');
const FIXTURES = join(ROOT, 'fixtures');
const PEFT_CASES = [
  'llama-lora',
  'llama-rslora-all-linear',
  'llama-dora-layers',
  'qwen3-lora-regex',
  'qwen3-dora-rslora',
  'llama-modules-to-save',
  'qwen3-modules-to-save-embed',
  'qwen3-trainable-tokens',
  'gemma3-trainable-tokens-dict',
];

interface Reference {
  base: string;
  input_ids: number[][];
  logits_shape: [number, number, number];
  logits: number[];
}

const readRef = (dir: string) => JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
const ids = (ref: Reference) => tf.tensor2d(ref.input_ids.flat(), [ref.input_ids.length, (ref.input_ids[0] as number[]).length], 'int32');

beforeAll(async () => {
  await setupTestBackend();
});

describe.each(PEFT_CASES)('PEFT → @lora: %s', (name) => {
  const dir = join(FIXTURES, 'peft', name);
  const ref = readRef(dir);

  it('logits match PEFT within 1e-5 relative; merged logits equal adapter logits; files round-trip byte for byte', async () => {
    const { model } = await loadModel(join(FIXTURES, ref.base));
    const peft = await loadPeftModel(model, dir);
    const input = ids(ref);
    const logits = peft.forward(input);
    expect(logits.shape).toEqual(ref.logits_shape);
    const report = await expectTensorsClose(logits, ref.logits, { rtol: 1e-5, atol: 1e-5 });
    console.log(`${name}: max abs logit error vs PEFT ${report.maxAbs.toExponential(2)}`);

    // Re-serialising gives PEFT's exact bytes (weights and config).
    const bytes = await serializeAdapterWeights(peft.loraLayers(), 'default', { auxiliary: peft.auxiliaryLayers('default') });
    expect(Buffer.from(bytes).equals(readFileSync(join(dir, ADAPTER_WEIGHTS_NAME)))).toBe(true);
    expect(serializeLoraConfig(peft.peftConfig())).toBe(readFileSync(join(dir, ADAPTER_CONFIG_NAME), 'utf8'));

    await peft.merge();
    const merged = peft.forward(input);
    const mergedReport = await expectTensorsClose(merged, logits, { rtol: 1e-5, atol: 2e-5 });
    console.log(`${name}: merged vs adapter max abs ${mergedReport.maxAbs.toExponential(2)}`);
    await peft.unmerge();
    const unmerged = peft.forward(input);
    await expectTensorsClose(unmerged, logits, { rtol: 1e-5, atol: 2e-5 });
    tf.dispose([input, logits, merged, unmerged]);
    peft.dispose();
  });
});

describe.each(['qwen3-trainable-tokens', 'qwen3-modules-to-save-embed', 'llama-modules-to-save'])(
  'PEFT → @lora → merged checkpoint: %s',
  (name) => {
    const dir = join(FIXTURES, 'peft', name);
    const ref = readRef(dir);

    it("mergeAndUnload + saveMergedModel give a plain checkpoint with PEFT's adapter logits (untied where PEFT unties)", async () => {
      const baseDir = join(FIXTURES, ref.base);
      const peft = await loadPeftModel((await loadModel(baseDir)).model, dir);
      const merged = await peft.mergeAndUnload();
      const out = await mkdtemp(join(tmpdir(), 'lora-merged-'));
      try {
        await saveMergedModel(merged, out, { base: baseDir });
        merged.dispose();
        const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
        const baseTied = (JSON.parse(readFileSync(join(baseDir, 'config.json'), 'utf8')) as Record<string, unknown>).tie_word_embeddings;
        // A copy of a tied embedding alone unties the head (PEFT: "no longer tied after merging").
        expect(config.tie_word_embeddings).toBe(name === 'qwen3-modules-to-save-embed' ? false : baseTied);
        const { model } = await loadModel(out);
        const input = ids(ref);
        const logits = model.forward(input);
        const report = await expectTensorsClose(logits, ref.logits, { rtol: 1e-5, atol: 2e-5 });
        console.log(`${name}: merged checkpoint max abs logit error vs PEFT adapter ${report.maxAbs.toExponential(2)}`);
        tf.dispose([input, logits]);
        model.dispose();
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    });
  },
);

/** Adapters this package writes for PEFT to read: seeded init with random non-zero B (init false), random DoRA magnitude. */
const FROM_LORA = {
  'llama-lora': {
    base: 'tiny-llama',
    config: { r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'], initLoraWeights: false },
  },
  'qwen3-dora': {
    base: 'tiny-qwen3',
    config: { r: 4, loraAlpha: 16, useDora: true, useRslora: true, targetModules: 'all-linear', initLoraWeights: false },
  },
  'llama-modules-to-save': {
    base: 'tiny-llama',
    config: { r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'], initLoraWeights: false, modulesToSave: ['lm_head', 'embed_tokens'] },
  },
  'qwen3-trainable-tokens': {
    base: 'tiny-qwen3',
    config: {
      r: 4,
      loraAlpha: 8,
      targetModules: ['q_proj', 'v_proj'],
      initLoraWeights: false,
      trainableTokenIndices: [139, 22, 7, 203, 137],
    },
  },
} as const;

/** `values` plus N(0, 0.2²)-ish noise (uniform ±0.35), so the adapter's extra tensors differ from the base. */
const jitter = (values: Float32Array, rng: Rng) => Float32Array.from(values, (v) => v + (rng.next() - 0.5) * 0.7);

describe.each(Object.keys(FROM_LORA) as (keyof typeof FROM_LORA)[])('@lora → PEFT: %s', (name) => {
  const spec = FROM_LORA[name];
  const dir = join(FIXTURES, 'peft', 'from-lora', name);

  const build = async () => {
    const { model } = await loadModel(join(FIXTURES, spec.base));
    const config = loraConfig({
      ...spec.config,
      targetModules: spec.config.targetModules as never,
      baseModelNameOrPath: `fixtures/${spec.base}`,
    });
    const peft = getPeftModel(model, config, { seed: 7 });
    const rng = new Rng(11);
    for (const layer of peft.loraLayers().values()) {
      const current = await layer.toTorch('default');
      if (current.magnitude !== undefined) {
        layer.assignFromTorch('default', { ...current, magnitude: Float32Array.from(current.magnitude, () => 0.5 + rng.next()) });
      }
    }
    const aux = peft.auxiliaryLayers('default');
    for (const m of aux.modulesToSave.values()) {
      if (m instanceof ModulesToSaveLinear) {
        const { weight } = await m.toTorch('default');
        m.assignFromTorch('default', { weight: jitter(weight, rng) }, { trainable: true });
      } else m.assignFromTorch('default', jitter(await m.toTorch('default'), rng), { trainable: true });
    }
    for (const m of aux.trainableTokens.values()) m.assignDelta('default', jitter(await m.deltaValues('default'), rng));
    return peft;
  };

  it('writes the committed adapter bytes and matches the logits PEFT computed from them', async () => {
    const peft = await build();
    if (process.env.LORA_WRITE_FIXTURES === '1') {
      mkdirSync(dir, { recursive: true });
      await peft.saveAdapter(dir);
      console.log(`wrote ${dir}; now run /opt/parity/bin/python tools/parity/peft/make_peft.py from-lora`);
    }
    const tmp = await mkdtemp(join(tmpdir(), 'lora-peft-'));
    try {
      await peft.saveAdapter(tmp);
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
    console.log(`from-lora/${name}: max abs logit error vs PEFT ${report.maxAbs.toExponential(2)}`);
    tf.dispose([input, logits]);
    peft.dispose();
  });
});
