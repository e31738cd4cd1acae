import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rebuildF1Report, runF1Pipeline } from './pipeline.js';

const assets = process.env.LORA_ASSETS_DIR;
const out = mkdtempSync(join(tmpdir(), 'f1-pipeline-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe.skipIf(assets === undefined)('runF1Pipeline (stories260K, two models, tiny subset)', () => {
  if (assets === undefined) console.warn('skipped: set LORA_ASSETS_DIR to the shared assets folder (stories260K, data/f1db)');
  it('trains two models per epoch, scores them and rebuilds the summaries from disk', async () => {
    const r = await runF1Pipeline({
      preset: 'smoke',
      out,
      epochs: 2,
      maxSteps: 4,
      evalLimit: 6,
      data: { maxPerCategory: 10, fromSeason: 2015 },
      log: () => undefined,
      env: { ...process.env, LORA_BACKEND: process.env.LORA_TEST_BACKEND ?? 'wasm' },
    });
    expect(r.epochs).toHaveLength(2 * 3);
    for (const e of r.epochs) {
      // 10 per category at 0.8/0.1/0.1: one test question per category is scored.
      expect(e.count).toBeGreaterThan(0);
      expect(Number.isFinite(e.acc) && Number.isFinite(e.accNorm)).toBe(true);
      expect(existsSync(join(out, e.model, `epoch_${e.epoch}`, 'mc_results.json'))).toBe(true);
    }
    for (const f of [
      'epoch_results.csv',
      'summary_results.csv',
      'comparison_summary.md',
      'comparison_table.csv',
      'plots/accuracy_per_epoch.svg',
      'plots/train_time.svg',
      'plots/eval_time.svg',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    for (const losses of Object.values(r.losses)) expect(losses.at(-1)).toBeLessThan(losses[0] as number);
    const before = readFileSync(join(out, 'epoch_results.csv'), 'utf8');
    unlinkSync(join(out, 'epoch_results.csv'));
    unlinkSync(join(out, 'summary_results.csv'));
    await rebuildF1Report(out);
    expect(readFileSync(join(out, 'epoch_results.csv'), 'utf8')).toBe(before);
    expect(readFileSync(join(out, 'summary_results.csv'), 'utf8')).toMatch(/^qlora-r8,2,/m);
  });
});
