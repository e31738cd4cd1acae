import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseJson, resolveAsset } from '@lora/core';
import type { EvalResult, RunMetrics, TestExample } from '@lora/eval';
import { readPredictions, readRuns, REPORT_FILES, writeComparison, writeRunMetrics } from '@lora/eval/internal';
import { type JudgeModel, type JudgeProviderName, createJudgeModel } from '@lora/judge';
import { compareAdapter, loadRecipe, type PipelineOptions } from '@lora/recipe';
import { choosePreset } from '@lora/recipe/internal';
import type { TrainResult } from '@lora/train';
import { z } from 'zod';
import { buildJudgeRecords, splitJudgeRecords, writeJudgeSplits, type BuildJudgeOptions } from './dataset.js';
import { scoreJudge, type JudgeMetrics } from './scoring.js';
import { loadAiluminate, loadXsTest } from './sources.js';
import { VerdictSchema, type Verdict, type VerdictLabel } from './verdict.js';

/** Preset names of the judge recipe. */
export type JudgePresetName = 'smoke' | 'full' | 'smollm2';

/** A preset: the recipe file and how its data is built. */
export interface JudgePreset {
  /** Recipe YAML (absolute path). */
  readonly recipeFile: string;
  /** Options of {@link buildJudgeRecords}. */
  readonly data: BuildJudgeOptions;
}

const recipePath = (name: string): string => fileURLToPath(new URL(`../recipes/${name}`, import.meta.url));

/** The smoke data: 610 records (XSTest, 8 AILuminate prompts per hazard, 40 clarification cases), `minimal` instruction. */
const SMOKE_DATA: BuildJudgeOptions = { seed: 0, instruction: 'minimal', ailuminatePerHazard: 8, clarifyCount: 40 };

/**
 * The presets. `smoke` uses the `minimal` instruction (the `compact` one alone is 571 stories260K
 * tokens, more than its 512-token context holds with a verdict), 8 AILuminate prompts per hazard
 * and 40 clarification cases; `full` the whole data with the full rule-set instruction; `smollm2`
 * the smoke data (610 records, 61 test prompts) as chats in SmolLM2-135M-Instruct's own ChatML
 * template, QLoRA on the real model (sized for about 15 minutes on 2 idle cores).
 */
export const JUDGE_PRESETS: Readonly<Record<JudgePresetName, JudgePreset>> = {
  smoke: { recipeFile: recipePath('smoke.yaml'), data: SMOKE_DATA },
  full: { recipeFile: recipePath('full.yaml'), data: { seed: 0, instruction: 'full', clarifyCount: 150 } },
  smollm2: { recipeFile: recipePath('smollm2.yaml'), data: SMOKE_DATA },
};

/** An external judge model run on the same test prompts as a reference (`openai`, `gemini`, `openai-compatible`). */
export interface ExternalJudgeOptions {
  provider: JudgeProviderName;
  model: string;
  baseUrl?: string;
  /** Injected model (tests); overrides provider/model. */
  judgeModel?: JudgeModel;
}

/** Options of {@link runJudgePipeline}. */
export interface JudgePipelineOptions extends PipelineOptions {
  /** Preset (default `smoke`); `recipeFile` replaces its recipe. */
  preset?: JudgePresetName;
  /** Override of the data options of the preset (e.g. a smaller set in tests). */
  data?: Partial<BuildJudgeOptions>;
  /** Resume training from the latest checkpoint in `<out>/train`. */
  resume?: boolean;
  /** Optional external judge evaluated as a third run named `external`. */
  judge?: ExternalJudgeOptions;
}

/** What {@link runJudgePipeline} produced. */
export interface JudgePipelineResult {
  out: string;
  train: TrainResult;
  /** Judge metrics per run (`base`, `adapter`, maybe `external`). */
  metrics: Record<string, JudgeMetrics>;
  eval: EvalResult;
  /** Test prompts left out because prompt + maxNewTokens exceed the context. */
  skippedLongPrompts: number;
  files: { summary: string; table: string; metricsJson: string; plots: string[] };
  seconds: { data: number; train: number; eval: number; total: number };
}

const TestRowSchema = z.looseObject({ id: z.string(), prompt: z.string(), completion: z.string() });

/** Builds the judge data into `dir` unless `dir/train.jsonl` is already there. */
export async function prepareJudgeData(
  dir: string,
  options: BuildJudgeOptions,
  env: Readonly<Record<string, string | undefined>>,
): Promise<boolean> {
  if (existsSync(join(dir, 'train.jsonl'))) return false;
  const records = buildJudgeRecords(
    await loadXsTest(await resolveAsset('xstest', { kind: 'dataset', env, allowDownload: false })),
    await loadAiluminate(await resolveAsset('ailuminate', { kind: 'dataset', env, allowDownload: false })),
    options,
  );
  await writeJudgeSplits(dir, splitJudgeRecords(records, { seed: options.seed }).splits);
  return true;
}

const ratio = (x: number): string => x.toFixed(3);

/** Flat numbers of one run's judge metrics, as they appear in the comparison table. */
export function judgeMetricValues(m: JudgeMetrics): Record<string, number> {
  return {
    json_valid_rate: m.json_valid_rate,
    schema_valid_rate: m.schema_valid_rate,
    verdict_accuracy: m.verdict_accuracy,
    rules_exact_match: m.rules_exact_match,
    deny_recall: m.deny_recall,
    unsafe_false_negative_rate: m.unsafe_false_negative_rate,
    over_refusal_rate: m.over_refusal_rate,
    ece: m.calibration.ece,
  };
}

/** Replaces a run's generic metrics with the judge metrics (and its calibration for the reliability plot). */
function judgeRun(run: RunMetrics, metrics: JudgeMetrics): RunMetrics {
  return {
    ...run,
    metrics: { raw: judgeMetricValues(metrics) },
    details: { raw: { calibration: metrics.calibration } },
    meta: { ...(run.meta ?? {}), confusion: metrics.confusion },
  };
}

function goldOf(reference: unknown, id: string): Verdict {
  const text = typeof reference === 'string' ? reference : JSON.stringify(reference);
  return parseJson(text, VerdictSchema, { file: `gold verdict of ${id}` });
}

/**
 * The verdict accuracy of always answering the most common gold verdict of a test set: the floor
 * a judge's verdict accuracy has to beat.
 */
export function majorityBaseline(gold: readonly VerdictLabel[]): { verdict: VerdictLabel; count: number; accuracy: number } {
  const counts = new Map<VerdictLabel, number>();
  for (const v of gold) counts.set(v, (counts.get(v) ?? 0) + 1);
  const [verdict, count] = [...counts.entries()].reduce((best, e) => (e[1] > best[1] ? e : best), ['DENY', 0] as [VerdictLabel, number]);
  return { verdict, count, accuracy: gold.length === 0 ? 0 : count / gold.length };
}

/** Runs the external judge on every test prompt and writes `predictions_external.jsonl`. */
async function runExternal(
  judge: ExternalJudgeOptions,
  examples: readonly TestExample[],
  outDir: string,
  log: (line: string) => void,
): Promise<RunMetrics> {
  const model =
    judge.judgeModel ??
    createJudgeModel({ provider: judge.provider, model: judge.model, ...(judge.baseUrl === undefined ? {} : { baseUrl: judge.baseUrl }) });
  const lines: string[] = [];
  const started = Date.now();
  for (const [i, ex] of examples.entries()) {
    const t0 = Date.now();
    // The judge prompt itself, not a local model's chat rendering of it.
    const content = typeof ex.request === 'string' ? ex.request : (ex.prompt ?? '');
    const { text } = await model.complete({ messages: [{ role: 'user', content }], temperature: 0 });
    lines.push(
      JSON.stringify({
        id: ex.id,
        prompt: content,
        prediction: text,
        reference: ex.reference,
        variant: 'external',
        latencyMs: Date.now() - t0,
      }),
    );
    if ((i + 1) % 20 === 0) log(`[judge] external ${i + 1}/${examples.length}`);
  }
  const predictionsFile = REPORT_FILES.predictions('external');
  await writeFile(join(outDir, predictionsFile), `${lines.join('\n')}\n`);
  return {
    formatVersion: 1,
    run: 'external',
    createdAt: new Date().toISOString(),
    count: examples.length,
    predictionsFile,
    metrics: { raw: {} },
    details: { raw: {} },
    meta: { provider: model.provider, model: model.modelId, seconds: (Date.now() - started) / 1000 },
  };
}

/**
 * Scores every run of a report folder (`metrics_<run>.json` + `predictions_<run>.jsonl`) with
 * {@link scoreJudge}, rewrites the runs' metrics with the judge metrics and the comparison files
 * (also the way to rebuild a report from disk).
 */
export function rescoreJudgeReport(out: string): { metrics: Record<string, JudgeMetrics>; files: ReturnType<typeof writeComparison> } {
  const metrics: Record<string, JudgeMetrics> = {};
  for (const run of readRuns(out)) {
    const records = readPredictions(join(out, run.predictionsFile));
    const m = scoreJudge(records.map((r) => ({ output: r.prediction, gold: goldOf(r.reference, r.id) })));
    metrics[run.run] = m;
    writeRunMetrics(out, judgeRun(run, m));
  }
  return { metrics, files: writeComparison(out, readRuns(out)) };
}

/**
 * The judge recipe end to end: builds the data into `<out>/data` (XSTest + AILuminate +
 * clarification cases, stratified split) unless present → trains the recipe (QLoRA NF4 + double
 * quant, warmup, checkpoints, resume) into `<out>/train` → generates verdicts for the test prompts
 * with the adapter disabled (`base`) and enabled (`adapter`) in one process → scores them with
 * {@link scoreJudge} → optional external judge run → writes `comparison_summary.md`,
 * `comparison_table.csv`, `metrics_<run>.json`, `predictions_<run>.jsonl`, `judge_metrics.json`
 * and `plots/*.svg` (metrics bars, reliability diagrams) into `out`.
 *
 * @example
 * ```ts
 * const r = await runJudgePipeline({ preset: 'smoke', out: 'runs/judge-smoke' });
 * r.metrics.adapter.json_valid_rate;
 * ```
 */
export async function runJudgePipeline(options: JudgePipelineOptions): Promise<JudgePipelineResult> {
  const t0 = Date.now();
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const preset = choosePreset(JUDGE_PRESETS, options.preset, 'smoke');
  const out = resolve(options.out);
  const dataDir = join(out, 'data');
  await mkdir(out, { recursive: true });
  if (await prepareJudgeData(dataDir, { ...preset.data, ...(options.data ?? {}) }, env)) log(`[judge] wrote the data into ${dataDir}`);
  else log(`[judge] using the data in ${dataDir}`);
  const tData = Date.now();

  const loaded = await loadRecipe(options.recipeFile ?? preset.recipeFile, { ...env, JUDGE_DATA: dataDir });
  // A `messages` recipe trained on the chat rendering: the prompt is the user turn in the model's
  // template (encoded without added special tokens, as training encodes it).
  const chat = loaded.recipe.data.format === 'messages';
  const { maxSteps, evalLimit, maxNewTokens, resume } = options;
  const result = await compareAdapter(loaded, {
    out,
    label: 'judge',
    log,
    env,
    maxSteps,
    evalLimit,
    maxNewTokens,
    resume,
    testRows: {
      schema: TestRowSchema,
      toExample: (r, { render }) => {
        const prompt = chat ? render([{ role: 'user', content: r.prompt }]) : r.prompt;
        return { id: r.id, prompt, reference: r.completion, ...(chat ? { addSpecialTokens: false, request: r.prompt } : {}) };
      },
    },
    // Keep prompts that leave room for the verdict within the context.
    dropLongPrompts: true,
    metrics: [{ kind: 'json_valid' }],
    adapterName: 'adapter',
    evaluate: { confidence: false },
  });
  const { examples, skippedLongPrompts } = result;
  if (options.judge !== undefined) writeRunMetrics(out, await runExternal(options.judge, examples, out, log));

  const { metrics, files } = rescoreJudgeReport(out);
  const metricsJson = join(out, 'judge_metrics.json');
  const majority = majorityBaseline(examples.map((ex) => goldOf(ex.reference, ex.id).verdict));
  const summary = { preset: options.preset ?? 'smoke', recipe: loaded.file, skippedLongPrompts, majorityBaseline: majority, runs: metrics };
  await writeFile(metricsJson, `${JSON.stringify(summary, null, 1)}\n`);
  const [data, train, total] = [tData - t0, result.trainMs, Date.now() - t0].map((ms) => ms / 1000) as [number, number, number];
  const seconds = { data, train, eval: total - data - train, total };
  const losses = result.trained.result.losses;
  log(`[judge] loss ${losses[0]?.toFixed(3)} → ${losses.at(-1)?.toFixed(3)} in ${result.trained.result.step} steps`);
  for (const [run, m] of Object.entries(metrics)) {
    log(
      `[judge] ${run.padEnd(8)} json_valid ${ratio(m.json_valid_rate)}  schema_valid ${ratio(m.schema_valid_rate)}  verdict_acc ${ratio(m.verdict_accuracy)}  rules_em ${ratio(m.rules_exact_match)}  deny_recall ${ratio(m.deny_recall)}  unsafe_fnr ${ratio(m.unsafe_false_negative_rate)}  ece ${ratio(m.calibration.ece)}`,
    );
  }
  log(`[judge] always-${majority.verdict} baseline: verdict_acc ${ratio(majority.accuracy)} (${majority.count} of ${examples.length})`);
  log(
    `[judge] data ${seconds.data.toFixed(1)} s, train ${seconds.train.toFixed(1)} s, eval ${seconds.eval.toFixed(1)} s; report ${files.summary}`,
  );
  const evalResult = { runs: result.runs, outDir: result.outDir, files };
  return { out, train: result.trained.result, metrics, eval: evalResult, skippedLongPrompts, files: { ...files, metricsJson }, seconds };
}
