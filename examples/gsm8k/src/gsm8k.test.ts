import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@lora/core';
import { gsm8kScore, gsm8kFlexibleExtract, gsm8kNormalize, gsm8kStrictExtract } from '@lora/eval/internal';
import { loadAiluminate, type AiluminateRow } from '@lora-examples/judge';
import { beforeAll, describe, expect, it } from 'vitest';
import { FEW_SHOT_POOL, loadGsm8k, splitGsm8kAnswer, takeGsm8kFewShotPool, type Gsm8kRow } from './data.js';
import { GSM8K_PRESETS, resolveGsm8kPreset } from './presets.js';
import { renderGsm8kPrompt, toGsm8kMessages, toGsm8kPromptCompletion } from './prompts.js';
import { formatSummaryCsv, writeConfigResolved, writeSummaryCsv } from './results.js';
import { sampleSafetyPrompts } from './safety.js';
import { checkGsm8kThresholds, Gsm8kThresholdsSchema } from './thresholds.js';

const assets = process.env.LORA_ASSETS_DIR;
const skipReason = 'skipped: LORA_ASSETS_DIR is unset (point it at ../shared to run)';
if (assets === undefined) console.warn(`[gsm8k data] ${skipReason}`);

describe('presets, thresholds and result files', () => {
  it('defines simple / medium / strong with 3 / 5 / 8 shots and growing training', () => {
    expect([GSM8K_PRESETS.simple.fewShotK, GSM8K_PRESETS.medium.fewShotK, GSM8K_PRESETS.strong.fewShotK]).toEqual([3, 5, 8]);
    expect(GSM8K_PRESETS.simple.epochs).toBeLessThan(GSM8K_PRESETS.strong.epochs);
    expect(resolveGsm8kPreset('medium', { epochs: 4 }).epochs).toBe(4);
    expect(() => resolveGsm8kPreset('huge')).toThrow(InvalidArgumentError);
    expect(() => resolveGsm8kPreset('simple', { fewShotK: 9 })).toThrow(/fewShotK/);
  });
  it('checks thresholds and skips those without a measured value', () => {
    const thresholds = Gsm8kThresholdsSchema.parse({ minAccuracy: 0.3, minAccuracyGain: 0, minSafetyRate: 0.9, maxSafetyDrop: 0.05 });
    const ok = checkGsm8kThresholds(
      { baseAccuracy: 0.2, accuracy: 0.35, flexibleAccuracy: 0.4, baseSafetyRate: 0.95, safetyRate: 0.93 },
      thresholds,
    );
    expect(ok.pass).toBe(true);
    expect(ok.checks.map((c) => c.name)).toEqual(['minAccuracy', 'minAccuracyGain', 'minSafetyRate', 'maxSafetyDrop']);
    const bad = checkGsm8kThresholds(
      { baseAccuracy: 0.2, accuracy: 0.35, flexibleAccuracy: 0.4, baseSafetyRate: 0.99, safetyRate: 0.9 },
      thresholds,
    );
    expect(bad.checks.filter((c) => !c.pass).map((c) => c.name)).toEqual(['maxSafetyDrop']);
    expect(checkGsm8kThresholds({ baseAccuracy: 0, accuracy: 0, flexibleAccuracy: 0 }, thresholds).checks).toHaveLength(2);
    expect(Gsm8kThresholdsSchema.safeParse({ minAccuracy: 2 }).success).toBe(false);
    expect(Gsm8kThresholdsSchema.safeParse({ minAcuracy: 0.1 }).success).toBe(false);
  });
  it('writes summary.csv and a key-sorted config_resolved.json without secrets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gsm8k-'));
    try {
      const rows = [
        { model: 'base', preset: 'simple', fewShotK: 3, count: 10, accuracy: 0.1, flexibleAccuracy: 0.2, evalSeconds: 12 },
        {
          model: 'step,400',
          preset: 'simple',
          fewShotK: 3,
          count: 10,
          accuracy: 0.3,
          flexibleAccuracy: 0.3,
          safetyRate: 0.95,
          evalSeconds: 13.5,
          verdict: 'pass' as const,
        },
      ];
      const csv = readFileSync(await writeSummaryCsv(dir, rows), 'utf8');
      expect(csv).toBe(formatSummaryCsv(rows));
      expect(csv.split('\n')).toEqual([
        'model,preset,few_shot_k,count,accuracy,flexible_accuracy,safety_rate,eval_seconds,verdict',
        'base,simple,3,10,0.100000,0.200000,,12,',
        '"step,400",simple,3,10,0.300000,0.300000,0.950000,13.500000,pass',
        '',
      ]);
      const file = await writeConfigResolved(dir, { z: 1, a: { apiKey: 'x', b: [{ d: 1, c: 2 }] } });
      expect(readFileSync(file, 'utf8')).toBe(
        '{\n  "a": {\n    "b": [\n      {\n        "c": 2,\n        "d": 1\n      }\n    ]\n  },\n  "z": 1\n}\n',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(assets === undefined)(`GSM8K and AILuminate data${assets === undefined ? ` (${skipReason})` : ''}`, () => {
  let train: Gsm8kRow[];
  let test: Gsm8kRow[];
  let ailuminate: AiluminateRow[];
  beforeAll(async () => {
    train = await loadGsm8k(join(assets as string, 'data', 'gsm8k'), 'train');
    test = await loadGsm8k(join(assets as string, 'data', 'gsm8k'), 'test');
    ailuminate = await loadAiluminate(join(assets as string, 'data', 'ailuminate'));
  });

  it('reads 7,473 train and 1,319 test problems', () => {
    expect(train).toHaveLength(7473);
    expect(test).toHaveLength(1319);
  });

  it('takes a fixed pool of 8 (seed 42) out of train: no overlap, same pool every time', () => {
    const { pool, train: rest, poolIndices } = takeGsm8kFewShotPool(train);
    expect(FEW_SHOT_POOL).toEqual({ seed: 42, k: 8 });
    expect(pool).toHaveLength(8);
    expect(rest).toHaveLength(train.length - 8);
    const restQuestions = new Set(rest.map((r) => r.question));
    for (const p of pool) expect(restQuestions.has(p.question)).toBe(false);
    expect(takeGsm8kFewShotPool(train).poolIndices).toEqual(poolIndices);
    expect(takeGsm8kFewShotPool(train, { seed: 43 }).poolIndices).not.toEqual(poolIndices);
  });

  it('parses every train and test answer to its #### value, strict and flexible', () => {
    for (const row of [...train, ...test]) {
      const { final, reasoning } = splitGsm8kAnswer(row.answer);
      expect(final).toMatch(/^-?\d+(\.\d+)?$/);
      expect(reasoning.includes('####')).toBe(false);
      expect(gsm8kNormalize(gsm8kStrictExtract(row.answer))).toBe(final);
      expect(gsm8kScore(row.answer, row.answer)).toMatchObject({ strictMatch: 1, flexibleMatch: 1 });
    }
  });

  it('extracts model-style answers as the harness does', () => {
    const ref = train[0]?.answer as string;
    const final = splitGsm8kAnswer(ref).final;
    expect(gsm8kScore(`Some work.\n#### ${final}`, ref).strictMatch).toBe(1);
    expect(gsm8kScore(`So the answer is $${final}.`, ref)).toMatchObject({ strictMatch: 0, flexibleMatch: 1 });
    expect(gsm8kStrictExtract('no marker 12')).toBe('[invalid]');
    expect(gsm8kFlexibleExtract('costs $1,200.')).toBe('$1,200.');
    expect(gsm8kNormalize('$1,200.')).toBe('1200');
  });

  it('renders few-shot prompts and chat messages with assistant-only answers', () => {
    const { pool } = takeGsm8kFewShotPool(train);
    const row = test[0] as Gsm8kRow;
    const prompt = renderGsm8kPrompt(row.question, pool, 3);
    expect(prompt.split('Question: ')).toHaveLength(5);
    expect(prompt.endsWith(`Question: ${row.question}\nAnswer:`)).toBe(true);
    expect(prompt.match(/#### /g)).toHaveLength(3);
    expect(toGsm8kPromptCompletion(row, pool, 0)).toEqual({ prompt: `Question: ${row.question}\nAnswer:`, completion: ` ${row.answer}` });
    const messages = toGsm8kMessages(row, pool, 5, { includeAnswer: true });
    expect(messages.map((m) => m.role)).toEqual([...Array(6)].flatMap(() => ['user', 'assistant']));
    expect(messages.filter((m) => m.role === 'assistant').every((m) => (m.content ?? '').includes('#### '))).toBe(true);
    expect(toGsm8kMessages(row, pool, 5, { includeAnswer: false }).at(-1)).toEqual({ role: 'user', content: row.question });
    expect(() => renderGsm8kPrompt(row.question, pool, 9)).toThrow(InvalidArgumentError);
  });

  it('samples safety prompts stratified by hazard, seeded', () => {
    const sample = sampleSafetyPrompts(ailuminate, { count: 150, seed: 0 });
    const perHazard = new Map<string, number>();
    for (const s of sample) perHazard.set(s.hazard, (perHazard.get(s.hazard) ?? 0) + 1);
    expect(perHazard.size).toBe(15);
    expect([...perHazard.values()].every((n) => n === 10)).toBe(true);
    expect(sampleSafetyPrompts(ailuminate, { count: 150, seed: 0 })).toEqual(sample);
    expect(sampleSafetyPrompts(ailuminate, { count: 150, seed: 1 })).not.toEqual(sample);
    const uneven = sampleSafetyPrompts(ailuminate, { count: 16, seed: 0 });
    expect(new Set(uneven.map((s) => s.hazard)).size).toBe(15);
    expect(() => sampleSafetyPrompts(ailuminate, { count: 0, seed: 0 })).toThrow(InvalidArgumentError);
  });
});
