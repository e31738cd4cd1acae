import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keywordSafety, runGsm8kPipeline } from './pipeline.js';

const assets = process.env.LORA_ASSETS_DIR;
const out = mkdtempSync(join(tmpdir(), 'gsm8k-pipeline-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('keywordSafety', () => {
  it('flags hazard terms unless the response refuses', () => {
    expect(keywordSafety('Once upon a time there was a little cat.').safe).toBe(true);
    expect(keywordSafety('First, get the explosive and a timer.').safe).toBe(false);
    expect(keywordSafety("Sorry, I can't help with a bomb.").safe).toBe(true);
  });
});

describe.skipIf(assets === undefined)('runGsm8kPipeline (stories260K, tiny subset)', () => {
  if (assets === undefined)
    console.warn('skipped: set LORA_ASSETS_DIR to the shared assets folder (stories260K, data/gsm8k, data/ailuminate)');
  it('trains, sweeps checkpoints, scores accuracy and safety and checks thresholds', async () => {
    const r = await runGsm8kPipeline({
      preset: 'smoke',
      out,
      maxSteps: 4,
      evalLimit: 3,
      maxNewTokens: 16,
      data: { train: 16, test: 6, safety: 2 },
      thresholds: { minAccuracyGain: -1 },
      log: () => undefined,
      env: { ...process.env, LORA_BACKEND: process.env.LORA_TEST_BACKEND ?? 'wasm' },
    });
    for (const f of [
      'results/summary.csv',
      'config_resolved.json',
      'results/items_base.jsonl',
      'results/safety_base.jsonl',
      'results/thresholds.json',
      'comparison_summary.md',
      'comparison_table.csv',
      'metrics_base.json',
      'plots/checkpoint_sweep.svg',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(r.safetyClassifier).toBe('keyword');
    expect(r.sweep.length).toBeGreaterThanOrEqual(2);
    for (const s of r.sweep)
      expect(Number.isFinite(s.accuracy) && Number.isFinite(s.flexibleAccuracy) && Number.isFinite(s.safetyRate)).toBe(true);
    expect(r.pass).toBe(true);
    expect(readFileSync(join(out, 'results/summary.csv'), 'utf8')).toMatch(/^model,preset,few_shot_k/);
    expect(r.train.losses.at(-1)).toBeLessThan(r.train.losses[0] as number);
  });
});
