import { join } from 'node:path';
import { loadRecipe } from '@lora/recipe';
import { describe, expect, it } from 'vitest';
import { GAIA_PRESETS, GAIA_RECIPES_DIR } from './pipeline.js';

describe('GAIA presets', () => {
  it('every preset recipe loads with the loader the pipeline uses', async () => {
    for (const [name, preset] of Object.entries(GAIA_PRESETS)) {
      const { recipe } = await loadRecipe(join(GAIA_RECIPES_DIR, preset.recipe), { GAIA_DATA: '/data/gaia' });
      expect(recipe.evaluation?.test, name).toBe('/data/gaia/test.jsonl');
      expect(recipe.data.format, name).toBe('messages');
    }
  });

  it('smollm2: LoRA r 16 on a float32 SmolLM2-135M-Instruct (as the seed), calls as text in its own template', async () => {
    const preset = GAIA_PRESETS.smollm2;
    const { recipe } = await loadRecipe(join(GAIA_RECIPES_DIR, preset.recipe), { GAIA_DATA: '/data/gaia' });
    expect(recipe.model).toBe('SmolLM2-135M-Instruct');
    expect(recipe.backend).toBe('tensorflow');
    expect(recipe.quantization).toBeUndefined();
    expect(recipe.adapter).toMatchObject({ r: 16, loraAlpha: 32, targetModules: 'all-linear' });
    expect(recipe.data).toMatchObject({ mask: 'assistant' });
    expect(recipe.data.chatTemplate).toBeUndefined();
    expect(recipe.data.addBos).toBeUndefined();
    // SmolLM2's ChatML template renders no tools: the calls are written as <tool_call> text.
    expect(preset.toolCallStyle).toBe('text');
    expect(preset.data.compact).toBe(true);
  });
});
