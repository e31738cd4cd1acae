import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRecipe } from '@lora/recipe';
import { afterAll, describe, expect, it } from 'vitest';
import { writeJudgeSplits, type JudgeRecord } from './dataset.js';
import { JUDGE_PRESETS, majorityBaseline } from './pipeline.js';
import { formatVerdict, type Verdict } from './verdict.js';

const out = mkdtempSync(join(tmpdir(), 'judge-presets-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('judge presets', () => {
  it('every preset recipe loads with the loader the pipeline uses', async () => {
    for (const [name, preset] of Object.entries(JUDGE_PRESETS)) {
      const { recipe } = await loadRecipe(preset.recipeFile, { JUDGE_DATA: '/data/judge' });
      expect(recipe.evaluation?.test, name).toBe('/data/judge/test.jsonl');
      expect(recipe.adapter, name).not.toBe('none');
    }
  });

  it('smollm2: QLoRA NF4 + double quant on SmolLM2-135M-Instruct, chats in the model template', async () => {
    const { recipe } = await loadRecipe(JUDGE_PRESETS.smollm2.recipeFile, { JUDGE_DATA: '/data/judge' });
    expect(recipe.model).toBe('SmolLM2-135M-Instruct');
    expect(recipe.backend).toBe('tensorflow');
    expect(recipe.quantization).toMatchObject({ type: 'nf4', doubleQuant: true });
    expect(recipe.adapter).toMatchObject({ r: 16, loraAlpha: 32, targetModules: 'all-linear' });
    expect(recipe.data).toMatchObject({ format: 'messages', mask: 'assistant' });
    // The model's own chat template and BOS rule: nothing pinned.
    expect(recipe.data.chatTemplate).toBeUndefined();
    expect(recipe.data.addBos).toBeUndefined();
    expect(JUDGE_PRESETS.smollm2.data.instruction).toBe('minimal');
  });

  it('writes each record as prompt/completion and as a user/assistant chat', async () => {
    const gold: Verdict = { verdict: 'ALLOW', confidence: 0.9, violations: [], notes: 'fine' };
    const record: JudgeRecord = {
      id: 'r1',
      prompt: 'Judge this.\n\nVerdict:',
      completion: formatVerdict(gold),
      request: 'hi',
      verdict: 'ALLOW',
      hazard: 'none',
      source: 'xstest',
      subtype: 'x',
      gold,
    };
    await writeJudgeSplits(out, { train: [record], validation: [], test: [] });
    const row = JSON.parse(readFileSync(join(out, 'train.jsonl'), 'utf8').trim()) as Record<string, unknown>;
    expect(row.prompt).toBe(record.prompt);
    expect(row.completion).toBe(record.completion);
    expect(row.messages).toEqual([
      { role: 'user', content: record.prompt },
      { role: 'assistant', content: record.completion },
    ]);
  });

  it('majorityBaseline is the accuracy of always answering the most common gold verdict', () => {
    expect(majorityBaseline(['DENY', 'ALLOW', 'DENY', 'ASK_CLARIFY'])).toEqual({ verdict: 'DENY', count: 2, accuracy: 0.5 });
    expect(majorityBaseline(['ALLOW', 'ALLOW', 'DENY'])).toMatchObject({ verdict: 'ALLOW', count: 2 });
    expect(majorityBaseline([]).accuracy).toBe(0);
  });
});
