// Gemma3ForConditionalGeneration (gemma-3-4b-it's class) both ways with PEFT 0.21: adapters PEFT
// wrote (no task type, so `auto_mapping`; vision-tower tensors included) load here with PEFT's
// logits, and the adapter written here loads in PEFT under `model.language_model.*` with the logits
// PEFT computed from it (tools/parity/peft/make_gemma3_mm.py). Regenerate the @lora side with
// LORA_WRITE_FIXTURES=1, then run make_gemma3_mm.py from-lora.
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFormatError, Rng } from '@lora/core';
import { loadModel } from '@lora/models';
import { SafetensorsReader } from '@lora/models/internal';
import { expectTensorsClose, setupTestBackend } from '@lora/models/test';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loraConfig } from './config/lora-config.js';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME } from './io/format.js';
import { adapterStateDict } from './io/save.js';
import { saveMergedModel } from './merge.js';
import { getPeftModel, loadPeftModel } from './peft-model.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures');
const BASE = join(FIXTURES, 'tiny-gemma3-mm');

interface Reference {
  input_ids: number[][];
  logits_shape: [number, number, number];
  logits: number[];
  /** PEFT's float32 logits against float64 (PEFT → @lora cases). */
  peft_float32_vs_float64_max_abs?: number;
}

const readRef = (dir: string) => JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
const ids = (ref: Reference) => tf.tensor2d(ref.input_ids.flat(), [ref.input_ids.length, (ref.input_ids[0] as number[]).length], 'int32');
const quiet = { onWarning: () => {} };

async function keysOf(file: string): Promise<string[]> {
  const reader = await SafetensorsReader.open(file);
  try {
    return [...reader.keys()].sort();
  } finally {
    await reader.close();
  }
}

let tmp: string;
beforeAll(async () => {
  await setupTestBackend();
  tmp = await mkdtemp(join(tmpdir(), 'lora-gemma3-mm-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe.each(['gemma3-mm-lora', 'gemma3-mm-dora-all-linear'])('PEFT → @lora on Gemma3ForConditionalGeneration: %s', (name) => {
  const dir = join(FIXTURES, 'peft', name);
  const ref = readRef(dir);

  it("gives PEFT's logits; vision-tower tensors are skipped with one counted warning", async () => {
    const { model } = await loadModel(BASE, quiet);
    const warnings: string[] = [];
    const peft = await loadPeftModel(model, dir, { onWarning: (m) => warnings.push(m) });
    expect(peft.peftConfig().autoMapping).toEqual({
      base_model_class: 'Gemma3ForConditionalGeneration',
      parent_library: 'transformers.models.gemma3.modeling_gemma3',
    });
    const fileKeys = await keysOf(join(dir, ADAPTER_WEIGHTS_NAME));
    const vision = fileKeys.filter((k) => k.startsWith('base_model.model.model.vision_tower.'));
    expect(vision.length).toBeGreaterThan(0);
    const skips = warnings.filter((w) => w.includes('vision tower / multi_modal_projector'));
    expect(skips).toHaveLength(1);
    expect(skips[0]).toContain(`skipped ${vision.length} adapter tensor(s)`);
    // PEFT resolved "all-linear" over the vision tower too: its names are ignored with a warning.
    const ignored = warnings.filter((w) => w.includes('match no module of the text decoder'));
    expect(ignored).toHaveLength(name.includes('all-linear') ? 1 : 0);
    if (name.includes('all-linear')) expect(ignored[0]).toMatch(/`fc1`.*`fc2`|`fc2`.*`fc1`/);

    const input = ids(ref);
    const logits = peft.forward(input);
    // Both sides round in float32: allow twice PEFT's own float32 error (DoRA + rsLoRA scaling 8: 2.9e-5).
    const atol = Math.max(1e-5, 2 * (ref.peft_float32_vs_float64_max_abs ?? 0));
    const report = await expectTensorsClose(logits, ref.logits, { rtol: 1e-5, atol });
    console.log(`${name}: max abs logit error vs PEFT ${report.maxAbs.toExponential(2)}`);
    // Saving again writes exactly the text decoder's tensors under PEFT's keys.
    const saved = Object.keys(await adapterStateDict(peft.loraLayers(), 'default')).sort();
    expect(saved).toEqual(fileKeys.filter((k) => !vision.includes(k)));
    tf.dispose([input, logits]);
    peft.dispose();
  });
});

describe('@lora → PEFT on Gemma3ForConditionalGeneration', () => {
  const dir = join(FIXTURES, 'peft', 'from-lora', 'gemma3-mm');
  const build = async () => {
    const { model } = await loadModel(BASE, quiet);
    const config = loraConfig({
      r: 4,
      loraAlpha: 8,
      targetModules: ['q_proj', 'v_proj', 'down_proj'],
      initLoraWeights: false,
      baseModelNameOrPath: 'fixtures/tiny-gemma3-mm',
    });
    return getPeftModel(model, config, { seed: 7 });
  };

  it('writes model.language_model.* keys and an explicit target list; PEFT computes the same logits from them', async () => {
    const peft = await build();
    if (process.env.LORA_WRITE_FIXTURES === '1') {
      mkdirSync(dir, { recursive: true });
      await peft.saveAdapter(dir);
      console.log(`wrote ${dir}; now run /opt/parity/bin/python tools/parity/peft/make_gemma3_mm.py from-lora`);
    }
    const out = join(tmp, 'adapter');
    await peft.saveAdapter(out);
    for (const file of [ADAPTER_WEIGHTS_NAME, ADAPTER_CONFIG_NAME]) {
      expect(Buffer.from(await readFile(join(out, file))).equals(readFileSync(join(dir, file))), file).toBe(true);
    }
    const keys = await keysOf(join(out, ADAPTER_WEIGHTS_NAME));
    expect(keys).toHaveLength(6 * 3 * 2);
    expect(keys.every((k) => k.startsWith('base_model.model.model.language_model.layers.'))).toBe(true);
    const written = JSON.parse(await readFile(join(out, ADAPTER_CONFIG_NAME), 'utf8')) as { target_modules: string[] };
    expect(written.target_modules).toContain('model.language_model.layers.5.mlp.down_proj');
    expect(written.target_modules).toHaveLength(18);

    const ref = readRef(dir);
    const input = ids(ref);
    const logits = peft.forward(input);
    const report = await expectTensorsClose(logits, ref.logits, { rtol: 1e-5, atol: 1e-5 });
    console.log(`from-lora/gemma3-mm: max abs logit error vs PEFT ${report.maxAbs.toExponential(2)}`);

    // The merged checkpoint keeps the base's multimodal layout (names and vision tower).
    const merged = process.env.LORA_WRITE_FIXTURES === '1' ? join(tmpdir(), 'lora-gemma3-mm-merged') : join(tmp, 'merged');
    await saveMergedModel(await peft.mergeAndUnload(), merged, { base: BASE });
    expect(await keysOf(join(merged, 'model.safetensors'))).toEqual(await keysOf(join(BASE, 'model.safetensors')));
    const again = await loadModel(merged, quiet);
    const mergedLogits = again.model.forward(input);
    const mergedReport = await expectTensorsClose(mergedLogits, ref.logits, { rtol: 1e-5, atol: 2e-5 });
    console.log(`from-lora/gemma3-mm merged: max abs logit error vs PEFT ${mergedReport.maxAbs.toExponential(2)}`);
    tf.dispose([input, logits, mergedLogits]);
    again.model.dispose();
  });

  it('reloads its own adapter (round trip) with the same logits', async () => {
    const peft = await build();
    const rng = new Rng(3);
    for (const layer of peft.loraLayers().values()) {
      const t = await layer.toTorch('default');
      layer.assignFromTorch('default', { ...t, b: Float32Array.from(t.b, () => rng.next() - 0.5) });
    }
    const out = join(tmp, 'round-trip');
    await peft.saveAdapter(out);
    const input = ids(readRef(dir));
    const expected = peft.forward(input);
    const { model } = await loadModel(BASE, quiet);
    const reloaded = await loadPeftModel(model, out);
    const logits = reloaded.forward(input);
    await expectTensorsClose(logits, expected, { rtol: 0, atol: 1e-6 });
    tf.dispose([input, expected, logits]);
    peft.dispose();
    reloaded.dispose();
  });
});

describe('adapters under the other Gemma 3 layout are errors, never silent no-ops', () => {
  it('a text-only (Gemma3ForCausalLM) adapter on the multimodal base', async () => {
    const { model } = await loadModel(join(FIXTURES, 'tiny-gemma3'));
    const peft = getPeftModel(model, loraConfig({ r: 2, targetModules: ['q_proj'] }));
    const out = join(tmp, 'text-only');
    await peft.saveAdapter(out);
    peft.dispose();
    const mm = await loadModel(BASE, quiet);
    const error = await loadPeftModel(mm.model, out).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight/);
    expect((error as Error).message).toMatch(/HINT: the keys use the text-only layout/);
    // The failed load left the base model unwrapped.
    expect(mm.model.linearModules().every((s) => s.get().constructor.name === 'Linear')).toBe(true);
    mm.model.dispose();
  });

  it('a Gemma3ForConditionalGeneration adapter on the text-only base', async () => {
    const { model } = await loadModel(join(FIXTURES, 'tiny-gemma3'));
    const error = await loadPeftModel(model, join(FIXTURES, 'peft', 'gemma3-mm-lora'), quiet).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/HINT: the keys use the Gemma3ForConditionalGeneration layout/);
    model.dispose();
  });
});
