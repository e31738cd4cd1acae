import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runJudgePipeline } from './pipeline.js';

const assets = process.env.LORA_ASSETS_DIR;
const out = mkdtempSync(join(tmpdir(), 'judge-pipeline-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe.skipIf(assets === undefined)('runJudgePipeline (stories260K, tiny subset)', () => {
  if (assets === undefined)
    console.warn('skipped: set LORA_ASSETS_DIR to the shared assets folder (stories260K, data/xstest, data/ailuminate)');
  it('trains, compares base vs adapter and writes every report file', async () => {
    const lines: string[] = [];
    const r = await runJudgePipeline({
      preset: 'smoke',
      out,
      maxSteps: 6,
      evalLimit: 4,
      maxNewTokens: 24,
      data: { ailuminatePerHazard: 1, clarifyCount: 6 },
      log: (l) => lines.push(l),
      env: { ...process.env, LORA_BACKEND: process.env.LORA_TEST_BACKEND ?? 'wasm' },
    });
    for (const f of [
      'comparison_summary.md',
      'comparison_table.csv',
      'metrics_base.json',
      'metrics_adapter.json',
      'predictions_base.jsonl',
      'predictions_adapter.jsonl',
      'judge_metrics.json',
      'plots/metrics.svg',
      'train/adapter_model.safetensors',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    for (const run of ['base', 'adapter']) {
      const m = r.metrics[run];
      expect(m).toBeDefined();
      for (const v of [
        m?.json_valid_rate,
        m?.schema_valid_rate,
        m?.verdict_accuracy,
        m?.deny_recall,
        m?.unsafe_false_negative_rate,
        m?.calibration.ece,
      ])
        expect(Number.isFinite(v)).toBe(true);
    }
    const losses = r.train.losses;
    expect(losses.at(-1)).toBeLessThan(losses[0] as number);
  });
});
