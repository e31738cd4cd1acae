import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startJudgeServer, type JudgeServer } from '@lora/judge/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline, type PipelineResult } from './pipeline.js';

// The whole CarBot pipeline on the real stories260K with a tiny data set and a few steps: data →
// LoRA training → base vs adapter evaluation → pairwise judge (a loopback OpenAI-protocol server)
// → report files.
const assets = process.env.LORA_ASSETS_DIR;
const skipReason = 'skipped: LORA_ASSETS_DIR is unset (point it at ../shared to run)';
if (assets === undefined) console.warn(`[carbot pipeline] ${skipReason}`);

describe.skipIf(assets === undefined)(`CarBot pipeline on stories260K${assets === undefined ? ` (${skipReason})` : ''}`, () => {
  let out: string;
  let server: JudgeServer;
  let result: PipelineResult;
  const lines: string[] = [];
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'carbot-pipeline-'));
    server = await startJudgeServer({ protocol: 'openai' });
    result = await runPipeline({
      preset: 'smoke',
      out,
      examples: 160,
      maxSteps: 6,
      evalLimit: 4,
      maxNewTokens: 24,
      judge: { provider: 'openai', model: 'gpt-4o-mini', baseUrl: `${server.url}/v1`, apiKey: 'test-key' },
      log: (line) => lines.push(line),
      env: { ...process.env, LORA_BACKEND: process.env.LORA_TEST_BACKEND ?? 'wasm' },
    });
  });
  afterAll(async () => {
    await server?.close();
    if (out !== undefined) rmSync(out, { recursive: true, force: true });
  });

  it('writes every report file', () => {
    const f = result.files;
    for (const file of [f.summary, f.table, f.pipelineSummary, f.lossPlot, ...f.plots, ...f.metrics, ...f.predictions])
      expect(existsSync(file), file).toBe(true);
    expect(f.plots.map((p) => p.slice(out.length + 1)).sort()).toEqual(['plots/metrics.svg', 'plots/metrics_normalized.svg']);
    for (const split of ['train', 'validation', 'test']) expect(existsSync(join(out, 'data', `${split}.jsonl`))).toBe(true);
    expect(existsSync(join(out, 'train', 'adapter_model.safetensors'))).toBe(true);
    const md = readFileSync(f.summary, 'utf8');
    for (const heading of [
      '## Metrics (raw)',
      '## Metrics (after the normalisation hook)',
      '## Runtime',
      '## Pairwise judge',
      '## Training',
    ])
      expect(md).toContain(heading);
    expect(readFileSync(f.table, 'utf8').split('\n')[0]).toBe('metric,base,lora');
  });

  it('reports every metric as a number for base and adapter', () => {
    expect(result.runs.map((r) => r.run)).toEqual(['base', 'lora']);
    expect(result.runs.every((r) => Number.isFinite(r.metrics.raw.validation_loss))).toBe(true);
    expect(result.runs[1]?.metrics.raw.validation_loss).toBeLessThan(result.runs[0]?.metrics.raw.validation_loss ?? Number.NaN);
    const keys = [
      'carbot.action_em',
      'carbot.intent_accuracy',
      'carbot.name_mentioned',
      'json_exact_match',
      'slot_f1.micro',
      'slot_f1.macro',
      'schema_valid',
      'json_valid.strict',
      'json_valid.lenient',
    ];
    for (const run of result.runs) {
      expect(run.count).toBe(4);
      for (const k of keys) {
        expect(run.metrics.raw[k], `${run.run} ${k}`).toBeGreaterThanOrEqual(0);
        expect(run.metrics.raw[k], `${run.run} ${k}`).toBeLessThanOrEqual(1);
      }
      for (const k of ['carbot.action_em', 'json_exact_match', 'slot_f1.micro'])
        expect(Number.isFinite(run.metrics.normalized?.[k])).toBe(true);
      expect(run.stats?.latencyMs.mean).toBeGreaterThan(0);
      expect(run.stats?.latencyMs.p95).toBeGreaterThanOrEqual(run.stats?.latencyMs.p50 ?? Number.NaN);
      expect(run.stats?.peakTensorBytes).toBeGreaterThan(0);
    }
  });

  it('trains: the adapter loss goes down', () => {
    expect(result.train.steps).toBe(6);
    expect(result.train.lastLoss).toBeLessThan(result.train.firstLoss);
    expect(result.train.evalLoss).toBeLessThan(result.train.firstLoss);
  });

  it('judges base vs adapter in both orders and rates them', () => {
    const j = result.judge;
    expect(j?.judged).toBe(4);
    expect((j?.wins ?? 0) + (j?.ties ?? 0) + (j?.losses ?? 0)).toBe(4);
    expect(Object.keys(j?.bradleyTerry ?? {}).sort()).toEqual(['base', 'lora']);
    // Both orders of each item reached the server.
    expect(server.requests).toHaveLength(8);
    expect(existsSync(join(out, 'judge', 'summary.json'))).toBe(true);
  });

  it('prints a short summary', () => {
    const summary = lines.at(-1) ?? '';
    expect(summary).toContain('carbot.action_em');
    expect(summary).toMatch(/train loss [\d.]+ → [\d.]+ in 6 steps; total [\d.]+ s \(training [\d.]+ s, evaluation [\d.]+ s\)/);
    // Evaluation progress shows the elapsed time (and an ETA before the last batch; the 4 answers here are one batch).
    expect(lines).toContainEqual(expect.stringMatching(/^\[carbot\] base: 4\/4 answers · \d+s$/));
  });

  it('records the stage times in pipeline_summary.json', () => {
    const s = JSON.parse(readFileSync(join(out, 'pipeline_summary.json'), 'utf8')) as {
      wallMs: number;
      stageMs: { train: number; eval: number };
    };
    expect(s.stageMs.train).toBeGreaterThan(0);
    expect(s.stageMs.eval).toBeGreaterThan(0);
    expect(s.stageMs.train + s.stageMs.eval).toBeLessThanOrEqual(s.wallMs);
  });
});
