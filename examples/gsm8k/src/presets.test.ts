import { loadRecipe } from '@lora/recipe';
import { describe, expect, it } from 'vitest';
import { GSM8K_PIPELINE_PRESETS } from './pipeline.js';

describe('GSM8K pipeline presets', () => {
  it('every preset recipe loads with the loader the pipeline uses, with a checkpoint for the sweep', async () => {
    for (const [name, entry] of Object.entries(GSM8K_PIPELINE_PRESETS)) {
      const { recipe } = await loadRecipe(entry.recipeFile, { GSM8K_DATA: '/data/gsm8k' });
      expect(recipe.evaluation?.test, name).toBe('/data/gsm8k/test.jsonl');
      expect(recipe.training.saveSteps, name).toBeGreaterThan(0);
      // The preset's shots and QLoRA setting are what the recipe trains.
      expect(recipe.quantization !== undefined, name).toBe(entry.preset.quantize4bit);
    }
  });

  it('smollm2: the medium adapter (QLoRA NF4 + DQ, r 16 all-linear) on SmolLM2-135M-Instruct in its own template', async () => {
    const entry = GSM8K_PIPELINE_PRESETS.smollm2;
    const { recipe } = await loadRecipe(entry.recipeFile, { GSM8K_DATA: '/data/gsm8k' });
    expect(recipe.model).toBe('SmolLM2-135M-Instruct');
    expect(recipe.backend).toBe('tensorflow');
    expect(recipe.quantization).toMatchObject({ type: 'nf4', doubleQuant: true });
    expect(recipe.adapter).toMatchObject({
      r: entry.preset.lora.r,
      loraAlpha: entry.preset.lora.loraAlpha,
      targetModules: entry.preset.lora.targetModules,
    });
    expect(recipe.data).toMatchObject({ format: 'messages', mask: 'assistant', maxLength: entry.preset.maxSeqLength });
    expect(recipe.data.chatTemplate).toBeUndefined();
    expect(recipe.data.addBos).toBeUndefined();
    expect(recipe.evaluation?.maxNewTokens).toBe(entry.preset.maxNewTokens);
    // One checkpoint at the end: the sweep is base vs adapter.
    expect(recipe.training.saveSteps).toBe(recipe.training.maxSteps);
    expect(entry.preset.fewShotK).toBe(0);
  });
});
