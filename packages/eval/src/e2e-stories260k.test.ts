import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Llama2cTokenizer } from '@lora/data';
import { type CausalLM, loadModel, scoreContinuations } from '@lora/models';
import { setupTestBackend } from '@lora/models/test';
import { type PeftModel, getPeftModel, loraConfig } from '@lora/peft';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aliasNormalizer } from './metrics/normalize.js';
import { encodePair, scoreMultipleChoice } from './mc-scoring.js';
import { readRuns, rebuildReport } from './reports/report.js';
import { adapterVariants, evaluateVariants, runEval, type Variant } from './run-eval.js';
import { readPredictions } from './runner/predictions.js';
import type { TestExample } from './runner/test-set.js';

// End to end on the real stories260K (llama2.c) model: base vs a LoRA adapter (random B, so it
// changes the outputs) vs sampling, in one process; files, resume, rebuild, runEval, MC scoring.
const assets = process.env.LORA_ASSETS_DIR;
const skipReason = 'skipped: LORA_ASSETS_DIR is unset (point it at ../shared to run)';
if (assets === undefined) console.warn(`[eval stories260K] ${skipReason}`);
const dir = assets === undefined ? '' : join(assets, 'models', 'stories260K');
const fixtures = new URL('../../../fixtures/llama2c/stories260K-greedy.json', import.meta.url);
const MAX_NEW = 24;

describe.skipIf(assets === undefined)(`eval runner on stories260K${assets === undefined ? ` (${skipReason})` : ''}`, () => {
  let model: CausalLM;
  let peft: PeftModel;
  let tok: Llama2cTokenizer;
  let examples: TestExample[];
  let out: string;
  beforeAll(async () => {
    await setupTestBackend();
    ({ model } = await loadModel(dir));
    tok = await Llama2cTokenizer.fromFile(join(dir, 'tok512.bin'), { vocabSize: model.config.vocabSize });
    peft = getPeftModel(model, loraConfig({ r: 4, loraAlpha: 64, targetModules: 'all-linear', initLoraWeights: false }));
    // References: llama2.c run.c's greedy continuations (fixtures/llama2c) for the first three prompts.
    const { cases } = JSON.parse(readFileSync(fixtures, 'utf8')) as { cases: { prompt: string; generatedIds: number[] }[] };
    const withRef = cases
      .filter((c) => c.prompt !== '')
      .map((c) => ({ prompt: c.prompt, reference: tok.decode(c.generatedIds.slice(0, MAX_NEW)) }));
    examples = [
      ...withRef.map((c, i) => ({ id: `s${i}`, ...c })),
      { id: 's3', prompt: 'Tom had a big' },
      { id: 's4', prompt: 'One day, a bird' },
      { id: 's5', prompt: 'The sun was' },
    ];
    // LORA_EVAL_KEEP=<dir> keeps the report folder for inspection.
    out = process.env.LORA_EVAL_KEEP ?? mkdtempSync(join(tmpdir(), 'lora-eval-e2e-'));
  });
  afterAll(() => {
    peft?.dispose();
    if (out !== undefined && process.env.LORA_EVAL_KEEP === undefined) rmSync(out, { recursive: true, force: true });
  });

  const variants = (): Variant[] => [
    ...adapterVariants(peft, { adapters: ['default'] }),
    { name: 'sampled', wrap: (fn) => peft.disableAdapter(fn), generation: { temperature: 0.9, seed: 3 } },
  ];
  const metrics = [
    { kind: 'exact_match' as const },
    { kind: 'json_valid' as const },
    { kind: 'calibration' as const, correct: 'exact_match' as const, bins: 5 },
  ];

  it('generates base, adapter and sampled runs and writes every report file', async () => {
    const progress: string[] = [];
    const tensorsBefore = tf.memory().numTensors;
    const { runs, files } = await evaluateVariants({
      model: peft,
      tokenizer: tok,
      examples,
      outDir: out,
      metrics,
      variants: variants(),
      maxNewTokens: MAX_NEW,
      batchSize: 3,
      normalize: aliasNormalizer({ lily: 'Lily' }),
      onProgress: (v, p) => progress.push(`${v}:${p.done}/${p.total}`),
    });
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(progress).toEqual(['base:3/6', 'base:6/6', 'default:3/6', 'default:6/6', 'sampled:3/6', 'sampled:6/6']);
    const [base, adapter, sampled] = runs;
    // The base model (adapter disabled) reproduces run.c's greedy text exactly.
    expect(base?.metrics.raw.exact_match).toBe(1);
    expect(base?.metrics.normalized?.exact_match).toBe(1);
    const preds = (run: string) => readPredictions(join(out, `predictions_${run}.jsonl`));
    const basePreds = preds('base');
    expect(basePreds).toHaveLength(6);
    expect(basePreds[0]).toMatchObject({
      id: 's0',
      prompt: 'Once upon a time',
      variant: 'base',
      reference: examples[0]?.reference,
      finishReason: 'length',
      newTokens: MAX_NEW,
    });
    expect(basePreds[0]?.prediction).toBe(examples[0]?.reference);
    expect(typeof basePreds[5]?.latencyMs).toBe('number');
    expect(basePreds[5]).not.toHaveProperty('reference');
    expect(basePreds.every((r) => r.confidence !== undefined && r.confidence > 0 && r.confidence <= 1)).toBe(true);
    // The adapter and sampling change the outputs.
    expect(preds('default').some((r, i) => r.prediction !== basePreds[i]?.prediction)).toBe(true);
    expect(preds('sampled').some((r, i) => r.prediction !== basePreds[i]?.prediction)).toBe(true);
    expect(adapter?.metrics.raw.exact_match).toBeLessThan(1);
    expect(sampled?.stats?.generated).toBe(6);
    for (const r of runs) {
      const s = r.stats;
      expect(s?.latencyMs.p50).toBeLessThanOrEqual(s?.latencyMs.p95 ?? 0);
      expect(s?.tokensPerSecond).toBeGreaterThan(0);
      expect(s?.peakTensorBytes).toBeGreaterThan(0);
    }
    for (const f of [
      'comparison_summary.md',
      'comparison_table.csv',
      'runs.json',
      'metrics_base.json',
      'metrics_default.json',
      'metrics_sampled.json',
      'plots/metrics.svg',
      'plots/metrics_normalized.svg',
      'plots/reliability_base.svg',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(files.plots.length).toBeGreaterThanOrEqual(5);
    const csv = readFileSync(files.table, 'utf8').split('\n');
    expect(csv[0]).toBe('metric,base,default,sampled');
    expect(csv.find((l) => l.startsWith('exact_match,'))).toMatch(/^exact_match,1,/);
    expect(csv.some((l) => l.startsWith('exact_match (normalized),'))).toBe(true);
    expect(csv.some((l) => l.startsWith('latency_p95_ms,'))).toBe(true);
    const md = readFileSync(files.summary, 'utf8');
    expect(md).toContain('## Metrics (after the normalisation hook)');
    expect(md).toContain('Δ sampled − base');
    console.log(
      `[eval stories260K] base: ${base?.stats?.tokensPerSecond.toFixed(1)} tok/s, p50 ${base?.stats?.latencyMs.p50.toFixed(1)} ms, p95 ${base?.stats?.latencyMs.p95.toFixed(1)} ms, peak ${base?.stats?.peakTensorBytes} B`,
    );
  });

  it('resumes after half the predictions are lost (and a line was cut mid-write)', async () => {
    const file = join(out, 'predictions_base.jsonl');
    const before = readPredictions(file);
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    writeFileSync(file, `${lines.slice(0, 3).join('\n')}\n${(lines[3] ?? '').slice(0, 25)}`);
    const { runs } = await evaluateVariants({
      model: peft,
      tokenizer: tok,
      examples,
      outDir: out,
      metrics,
      variants: variants().slice(0, 1),
      maxNewTokens: MAX_NEW,
      batchSize: 2,
    });
    expect(runs[0]?.stats).toMatchObject({ resumed: 3, generated: 3, total: 6 });
    const after = readPredictions(file);
    expect(after.map((r) => r.id)).toEqual(before.map((r) => r.id));
    expect(after.map((r) => r.prediction)).toEqual(before.map((r) => r.prediction));
    // A second rerun has nothing left to do.
    const again = await evaluateVariants({
      model: peft,
      tokenizer: tok,
      examples,
      outDir: out,
      metrics,
      variants: variants().slice(0, 1),
      maxNewTokens: MAX_NEW,
      // A task's own metric, computed from the records and added to the run's metrics file.
      taskMetrics: (records, variant) => ({
        raw: { 'task.long_answers': records.filter((r) => r.prediction.length > 10).length / records.length },
        perExample: Object.fromEntries(records.map((r) => [r.id, { 'task.variant': variant }])),
      }),
    });
    expect(again.runs[0]?.stats).toMatchObject({ resumed: 6, generated: 0 });
    const long = after.filter((r) => r.prediction.length > 10).length / after.length;
    expect(again.runs[0]?.metrics.raw['task.long_answers']).toBe(long);
    const saved = JSON.parse(readFileSync(join(out, 'metrics_base.json'), 'utf8')) as {
      metrics: { raw: Record<string, number> };
      details: { raw: { perExample: Record<string, Record<string, unknown>> } };
    };
    expect(saved.metrics.raw['task.long_answers']).toBe(long);
    expect(Object.keys(saved.metrics.raw)).toContain(Object.keys(runs[0]?.metrics.raw ?? {})[0]);
    expect(saved.details.raw.perExample[after[0]?.id ?? '']?.['task.variant']).toBe('base');
  });

  it('rebuilds the summaries from the saved runs', () => {
    const csvPath = join(out, 'comparison_table.csv');
    const csv = readFileSync(csvPath, 'utf8');
    const md = readFileSync(join(out, 'comparison_summary.md'), 'utf8');
    rmSync(csvPath);
    rmSync(join(out, 'comparison_summary.md'));
    rmSync(join(out, 'plots'), { recursive: true });
    const files = rebuildReport(out);
    expect(readFileSync(files.table, 'utf8')).toBe(csv);
    expect(readRuns(out).map((r) => r.run)).toEqual(['base', 'default', 'sampled']);
    expect(readFileSync(files.summary, 'utf8')).toBe(md);
    expect(existsSync(join(out, 'plots/reliability_sampled.svg'))).toBe(true);
  });

  it('runEval loads the model and a saved adapter from disk and compares them', async () => {
    const adapterDir = join(out, 'adapter');
    await peft.saveAdapter(adapterDir);
    const testFile = join(out, 'test.jsonl');
    writeFileSync(testFile, examples.map((e) => JSON.stringify(e)).join('\n'));
    const evalDir = join(out, 'run-eval');
    const { runs } = await runEval({
      model: dir,
      tokenizer: tok,
      testFile,
      limit: 4,
      metrics: ['exact_match', 'json_valid'],
      outDir: evalDir,
      adapters: [{ dir: adapterDir, name: 'lora' }],
      generation: { maxNewTokens: MAX_NEW },
      batchSize: 4,
    });
    expect(runs.map((r) => r.run)).toEqual(['base', 'lora']);
    expect(runs[0]?.metrics.raw.exact_match).toBe(1);
    const lora = readPredictions(join(evalDir, 'predictions_lora.jsonl'));
    const fromMemory = readPredictions(join(out, 'predictions_default.jsonl')).slice(0, 4);
    expect(lora.map((r) => r.prediction)).toEqual(fromMemory.map((r) => r.prediction));
  });

  it('scores multiple choice by log-probability with acc and acc_norm', async () => {
    const items = [
      { id: 'q1', question: 'Once upon a', options: ['time', 'banana split', 'the'], answer: 0 },
      { id: 'q2', question: 'Lily and Tom were playing in the', options: ['park', 'spaceship engine'], answer: 'park' },
    ];
    const calls: string[] = [];
    const file = join(out, 'mc.json');
    // `model` carries the injected adapter: score the base with it disabled.
    const r = await peft.disableAdapter(() =>
      scoreMultipleChoice({
        model,
        tokenizer: tok,
        items,
        formatQuestion: (i) => i.question,
        progressEvery: 1,
        onProgress: (d, t) => calls.push(`${d}/${t}`),
        outFile: file,
      }),
    );
    expect(calls).toEqual(['1/2', '2/2']);
    const q1 = r.questions[0];
    const pair = encodePair(tok, 'Once upon a', ' time');
    const [direct] = await peft.disableAdapter(() => scoreContinuations(model, [pair]));
    expect(q1?.scores[0]?.sum).toBeCloseTo(direct?.sum ?? 0, 5);
    expect(q1?.scores.map((s) => s.chars)).toEqual([4, 12, 3]);
    expect(r.questions[1]?.answer).toBe(0);
    expect(r.acc).toBe(1);
    expect(r.accNorm).toBeGreaterThanOrEqual(0.5);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { summary: { acc: number }; questions: unknown[] };
    expect(saved.summary.acc).toBe(1);
    expect(saved.questions).toHaveLength(2);
  });
});
