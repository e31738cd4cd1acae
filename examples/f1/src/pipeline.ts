import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, parseJson, resolveAsset } from '@lora/core';
import { readJsonl } from '@lora/data/internal';
import { type McItem, type McReport, type RunMetrics, scoreMultipleChoice } from '@lora/eval';
import { groupedBarChart, readRuns, writeComparison, writeRunMetrics } from '@lora/eval/internal';
import type { CausalLM } from '@lora/models';
import { withDequantizedWeights } from '@lora/quant';
import { loadRecipe, prepareModel, trainRecipe } from '@lora/recipe';
import { choosePreset } from '@lora/recipe/internal';
import { lineChartSvg } from '@lora/train/internal';
import { z } from 'zod';
import { splitF1Questions, writeF1Splits } from './dataset.js';
import { loadF1Db } from './f1db.js';
import { generateF1Questions } from './questions.js';
import { renderF1Prompt } from './render.js';

/** Preset names of the F1 recipe. */
export type F1PresetName = 'smoke' | 'full' | 'smollm2';

/** One compared model: a name (used in file names) and its recipe. */
export interface F1ModelSpec {
  readonly name: string;
  readonly recipeFile: string;
}

/** A preset: the two models, epochs and how the questions are generated. */
export interface F1Preset {
  readonly models: readonly F1ModelSpec[];
  readonly epochs: number;
  /** Evaluate at most this many test questions (default all). */
  readonly evalLimit?: number;
  readonly data: { seed: number; fromSeason?: number; toSeason?: number; maxPerCategory?: number };
}

const recipePath = (name: string): string => fileURLToPath(new URL(`../recipes/${name}`, import.meta.url));

/**
 * The presets. Both compare two configurations of the same data: `smoke` a QLoRA r 8 adapter on an
 * NF4 stories260K base against full fine-tuning of the float32 base (30 questions per category,
 * 3 epochs); `full` QLoRA r 16 against DoRA r 16 on every question; `smollm2` one QLoRA r 16
 * model on SmolLM2-135M-Instruct (50 questions per category, 2 epochs; ~10 minutes on 2 cores).
 */
export const F1_PRESETS: Readonly<Record<F1PresetName, F1Preset>> = {
  smoke: {
    models: [
      { name: 'qlora-r8', recipeFile: recipePath('smoke.yaml') },
      { name: 'full-ft', recipeFile: recipePath('smoke-full-ft.yaml') },
    ],
    epochs: 3,
    data: { seed: 0, maxPerCategory: 30 },
  },
  full: {
    models: [
      { name: 'qlora-r16', recipeFile: recipePath('full.yaml') },
      { name: 'dora-r16', recipeFile: recipePath('full-dora.yaml') },
    ],
    epochs: 3,
    data: { seed: 0 },
  },
  smollm2: {
    models: [{ name: 'qlora-r16', recipeFile: recipePath('smollm2.yaml') }],
    epochs: 2,
    data: { seed: 0, maxPerCategory: 50 },
  },
};

/** Options of {@link runF1Pipeline}. */
export interface F1PipelineOptions {
  preset?: F1PresetName;
  /** Replace the preset's models (e.g. your own recipes). */
  models?: readonly F1ModelSpec[];
  out: string;
  /** Override the preset's epochs. */
  epochs?: number;
  /** Cap on optimizer steps per epoch (tests). */
  maxSteps?: number;
  /** Override of the test questions evaluated. */
  evalLimit?: number;
  /** Override of the data options. */
  data?: Partial<F1Preset['data']>;
  /** Report progress every this many questions. Default 20. */
  progressEvery?: number;
  log?: (line: string) => void;
  env?: Readonly<Record<string, string | undefined>>;
}

/** One row of `epoch_results.csv` (also saved as `<model>/epoch_<e>/epoch.json`). */
export const EpochResultSchema = z.strictObject({
  model: z.string(),
  epoch: z.number().int().nonnegative(),
  step: z.number().int().nonnegative(),
  /** Mean training loss of the epoch's steps (NaN for epoch 0, the untrained base). */
  trainLoss: z.number().nullable(),
  acc: z.number(),
  accNorm: z.number(),
  ece: z.number(),
  count: z.number().int(),
  trainSeconds: z.number(),
  evalSeconds: z.number(),
});

/** One evaluated epoch. */
export type EpochResult = z.output<typeof EpochResultSchema>;

/** Files of the F1 report. */
export interface F1ReportFiles {
  epochResults: string;
  summaryResults: string;
  summary: string;
  table: string;
  plots: string[];
}

/** What {@link runF1Pipeline} produced. */
export interface F1PipelineResult {
  out: string;
  epochs: EpochResult[];
  /** Training losses per model (every step of every epoch). */
  losses: Record<string, number[]>;
  files: F1ReportFiles;
  seconds: number;
}

/** Generates the F1 questions into `dir` unless `dir/train.jsonl` exists. */
export async function prepareF1Data(
  dir: string,
  options: F1Preset['data'],
  env: Readonly<Record<string, string | undefined>>,
): Promise<boolean> {
  if (existsSync(join(dir, 'train.jsonl'))) return false;
  const db = await loadF1Db(await resolveAsset('f1db', { kind: 'dataset', env, allowDownload: false }), {
    ...(options.fromSeason === undefined ? {} : { fromSeason: options.fromSeason }),
    ...(options.toSeason === undefined ? {} : { toSeason: options.toSeason }),
  });
  const questions = generateF1Questions(db, {
    seed: options.seed,
    ...(options.maxPerCategory === undefined ? {} : { maxPerCategory: options.maxPerCategory }),
  });
  await writeF1Splits(dir, splitF1Questions(questions, { seed: options.seed }), {
    source: 'F1DB (CC-BY-4.0, F1DB / Marcel Overdijk et al.)',
    ...options,
  });
  return true;
}

const McRowSchema = z.looseObject({ id: z.string(), question: z.string(), options: z.array(z.string()), answer: z.number().int() });

async function readMcItems(file: string, limit: number | undefined): Promise<McItem[]> {
  return (await readJsonl(file, { schema: McRowSchema }).toArray()).slice(0, limit);
}

const LETTERS = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'];

/**
 * Scores F1 questions by log-probability: the context is the SFT prompt (question, lettered
 * options, `Answer:`) and each continuation is ` <letter>) <option>`, so `acc` (sum of log-probs)
 * rewards the trained answer letter and `acc_norm` (per character) corrects for long names.
 */
export async function scoreF1(
  model: CausalLM,
  tokenizer: Parameters<typeof scoreMultipleChoice>[0]['tokenizer'],
  items: readonly McItem[],
  options: { outFile?: string; progressEvery?: number; log?: (line: string) => void; label?: string } = {},
): Promise<McReport> {
  // The option texts stay on the item (`text`) for the prompt; the scored options carry their letter.
  const lettered = items.map((item) => ({
    ...item,
    options: item.options.map((o, i) => `${LETTERS[i] ?? String(i)}) ${o}`),
    text: item.options,
  }));
  return scoreMultipleChoice({
    model,
    tokenizer,
    items: lettered,
    formatQuestion: (item) => renderF1Prompt({ question: item.question, options: (item as { text?: string[] }).text ?? item.options }),
    progressEvery: options.progressEvery ?? 20,
    onProgress: (done, total) => options.log?.(`[f1] ${options.label ?? 'eval'} ${done}/${total} questions`),
    ...(options.outFile === undefined ? {} : { outFile: options.outFile }),
  });
}

const num = (x: number | null): string => (x === null || !Number.isFinite(x) ? '' : String(Math.round(x * 1e6) / 1e6));
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

/** The `epoch_results.csv` text. */
export function formatEpochResults(rows: readonly EpochResult[]): string {
  const header = 'model,epoch,step,train_loss,acc,acc_norm,ece,count,train_seconds,eval_seconds';
  return `${[header, ...rows.map((r) => [r.model, r.epoch, r.step, num(r.trainLoss), num(r.acc), num(r.accNorm), num(r.ece), r.count, num(r.trainSeconds), num(r.evalSeconds)].join(','))].join('\n')}\n`;
}

/** The `summary_results.csv` text: per model the base (epoch 0), final and best epoch, and total times. */
export function formatSummaryResults(rows: readonly EpochResult[]): string {
  const models = [...new Set(rows.map((r) => r.model))];
  const lines = ['model,epochs,base_acc,base_acc_norm,final_acc,final_acc_norm,best_epoch,best_acc,train_seconds,eval_seconds'];
  for (const m of models) {
    const own = rows.filter((r) => r.model === m).sort((a, b) => a.epoch - b.epoch);
    const base = own.find((r) => r.epoch === 0);
    const last = own.at(-1);
    const best = own.reduce<EpochResult | undefined>((b, r) => (b === undefined || r.acc > b.acc ? r : b), undefined);
    const sum = (k: 'trainSeconds' | 'evalSeconds') => own.reduce((s, r) => s + r[k], 0);
    lines.push(
      [
        m,
        own.filter((r) => r.epoch > 0).length,
        num(base?.acc ?? null),
        num(base?.accNorm ?? null),
        num(last?.acc ?? null),
        num(last?.accNorm ?? null),
        best?.epoch ?? '',
        num(best?.acc ?? null),
        num(sum('trainSeconds')),
        num(sum('evalSeconds')),
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Reads every `<out>/<model>/epoch_<e>/epoch.json`, sorted by model order then epoch. */
export async function readEpochResults(out: string): Promise<EpochResult[]> {
  const rows: EpochResult[] = [];
  for (const entry of await readdir(out, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(out, entry.name);
    for (const sub of await readdir(dir)) {
      const file = join(dir, sub, 'epoch.json');
      if (/^epoch_\d+$/.test(sub) && existsSync(file)) rows.push(parseJson(await readFile(file, 'utf8'), EpochResultSchema, { file }));
    }
  }
  return rows.sort((a, b) => (a.model === b.model ? a.epoch - b.epoch : a.model < b.model ? -1 : 1));
}

/**
 * Rebuilds every summary of an F1 run folder from the files on disk (`<model>/epoch_<e>/epoch.json`
 * and `mc_results.json`): `epoch_results.csv`, `summary_results.csv`, the base-vs-final comparison
 * (`comparison_summary.md`, `comparison_table.csv`, `metrics_<run>.json`) and the SVG plots.
 */
export async function rebuildF1Report(out: string): Promise<F1ReportFiles> {
  const rows = await readEpochResults(out);
  if (rows.length === 0)
    throw new InvalidArgumentError({
      argument: 'out',
      message: `${out} holds no <model>/epoch_<e>/epoch.json; run the pipeline into it first`,
    });
  const epochResults = join(out, 'epoch_results.csv');
  const summaryResults = join(out, 'summary_results.csv');
  await writeFile(epochResults, formatEpochResults(rows));
  await writeFile(summaryResults, formatSummaryResults(rows));
  const models = [...new Set(rows.map((r) => r.model))];
  // Comparison: each model's base (epoch 0) and last epoch as runs.
  for (const m of models) {
    const own = rows.filter((r) => r.model === m).sort((a, b) => a.epoch - b.epoch);
    for (const [run, r] of [
      [`${m}-base`, own[0]],
      [m, own.at(-1)],
    ] as const) {
      if (r === undefined) continue;
      const resultsFile = `${m}/epoch_${r.epoch}/mc_results.json`;
      const saved = parseJson(
        await readFile(join(out, resultsFile), 'utf8'),
        z.looseObject({ summary: z.looseObject({ calibration: z.unknown() }) }),
        { file: resultsFile },
      );
      const metrics: RunMetrics = {
        formatVersion: 1,
        run,
        createdAt: new Date().toISOString(),
        count: r.count,
        predictionsFile: resultsFile,
        metrics: { raw: { acc: r.acc, acc_norm: r.accNorm, ece: r.ece } },
        details: { raw: { calibration: saved.summary.calibration as NonNullable<RunMetrics['details']['raw']['calibration']> } },
        meta: { epoch: r.epoch, step: r.step },
      };
      writeRunMetrics(out, metrics);
    }
  }
  const comparison = writeComparison(out, readRuns(out));
  await mkdir(join(out, 'plots'), { recursive: true });
  const plots = [...comparison.plots];
  const line = (file: string, title: string, yLabel: string, pick: (r: EpochResult) => number) => {
    const series = models.map((m, i) => ({
      name: m,
      color: COLORS[i % COLORS.length] as string,
      points: rows.filter((r) => r.model === m).map((r) => [r.epoch, pick(r)] as const),
    }));
    plots.push(file);
    return writeFile(join(out, file), lineChartSvg(series, { title, xLabel: 'epoch (0 = base)', yLabel, yMin: 0, yMax: 1 }));
  };
  await line('plots/accuracy_per_epoch.svg', 'Accuracy per epoch (acc)', 'acc', (r) => r.acc);
  await line('plots/acc_norm_per_epoch.svg', 'Accuracy per epoch (acc_norm)', 'acc_norm', (r) => r.accNorm);
  const totals = (k: 'trainSeconds' | 'evalSeconds') => models.map((m) => rows.filter((r) => r.model === m).reduce((s, r) => s + r[k], 0));
  const trainT = totals('trainSeconds');
  const evalT = totals('evalSeconds');
  await writeFile(
    join(out, 'plots/train_time.svg'),
    groupedBarChart(
      'Training time per model (s)',
      ['train seconds'],
      models.map((m, i) => ({ name: m, values: [trainT[i] ?? 0] })),
    ),
  );
  await writeFile(
    join(out, 'plots/eval_time.svg'),
    groupedBarChart(
      'Evaluation time per model (s, all epochs)',
      ['eval seconds'],
      models.map((m, i) => ({ name: m, values: [evalT[i] ?? 0] })),
    ),
  );
  plots.push('plots/train_time.svg', 'plots/eval_time.svg');
  return { epochResults, summaryResults, summary: comparison.summary, table: comparison.table, plots };
}

async function evaluateEpoch(
  model: CausalLM,
  tokenizer: Parameters<typeof scoreF1>[1],
  items: readonly McItem[],
  row: Omit<EpochResult, 'acc' | 'accNorm' | 'ece' | 'count' | 'evalSeconds'>,
  dir: string,
  options: { progressEvery?: number; log: (line: string) => void },
): Promise<EpochResult> {
  await mkdir(dir, { recursive: true });
  const t0 = Date.now();
  // A 4-bit base is dequantized once for the whole scoring pass, not at every forward.
  const report = await withDequantizedWeights(model, () =>
    scoreF1(model, tokenizer, items, {
      outFile: join(dir, 'mc_results.json'),
      log: options.log,
      label: `${row.model} epoch ${row.epoch}`,
      ...(options.progressEvery === undefined ? {} : { progressEvery: options.progressEvery }),
    }),
  );
  const result: EpochResult = {
    ...row,
    acc: report.acc,
    accNorm: report.accNorm,
    ece: report.calibration.ece,
    count: report.count,
    evalSeconds: (Date.now() - t0) / 1000,
  };
  await writeFile(
    join(dir, 'epoch.json'),
    `${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1)}\n`,
  );
  options.log(
    `[f1] ${row.model} epoch ${row.epoch}: acc ${report.acc.toFixed(3)} acc_norm ${report.accNorm.toFixed(3)} (${result.evalSeconds.toFixed(1)} s)`,
  );
  return result;
}

/**
 * The F1 recipe end to end: generates the questions into `<out>/data` unless present; for each of
 * the two models scores the untrained base (epoch 0, 4-bit when the recipe quantizes), then per
 * epoch resumes training to `epoch × steps per epoch` steps (`<out>/<model>/train`) and scores the
 * test questions by log-probability (acc, acc_norm, per-question JSON in
 * `<out>/<model>/epoch_<e>/mc_results.json`); finally writes `epoch_results.csv`,
 * `summary_results.csv`, the comparison files and SVG plots (accuracy per epoch, train and eval time).
 *
 * @example
 * ```ts
 * const r = await runF1Pipeline({ preset: 'smoke', out: 'runs/f1-smoke' });
 * ```
 */
export async function runF1Pipeline(options: F1PipelineOptions): Promise<F1PipelineResult> {
  const t0 = Date.now();
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const preset = choosePreset(F1_PRESETS, options.preset, 'smoke');
  const out = resolve(options.out);
  const dataDir = join(out, 'data');
  await mkdir(out, { recursive: true });
  if (await prepareF1Data(dataDir, { ...preset.data, ...(options.data ?? {}) }, env)) log(`[f1] wrote the questions into ${dataDir}`);
  const items = await readMcItems(join(dataDir, 'test.mc.jsonl'), options.evalLimit ?? preset.evalLimit);
  if (items.length === 0)
    throw new InvalidArgumentError({
      argument: 'data.maxPerCategory',
      message: `${join(dataDir, 'test.mc.jsonl')} has no questions: a 10 % test split needs at least 10 questions per category (raise maxPerCategory or widen the seasons).`,
    });
  const trainCount = (await readFile(join(dataDir, 'train.jsonl'), 'utf8')).split('\n').filter((l) => l.trim() !== '').length;
  const epochs = options.epochs ?? preset.epochs;
  const rows: EpochResult[] = [];
  const losses: Record<string, number[]> = {};

  for (const spec of options.models ?? preset.models) {
    const loaded = await loadRecipe(spec.recipeFile, { ...env, F1_DATA: dataDir });
    const { recipe } = loaded;
    const accumulation = recipe.training.gradientAccumulationSteps ?? 1;
    const perEpoch = Math.min(Math.ceil(trainCount / recipe.data.batchSize / accumulation), options.maxSteps ?? Number.POSITIVE_INFINITY);
    const modelDir = join(out, spec.name);
    // Epoch 0: the base model as it is trained (4-bit when the recipe quantizes).
    const base = await prepareModel(recipe, { env, log, adapter: 'none' });
    try {
      rows.push(
        await evaluateEpoch(
          base.model,
          base.tokenizer,
          items,
          { model: spec.name, epoch: 0, step: 0, trainLoss: null, trainSeconds: 0 },
          join(modelDir, 'epoch_0'),
          { log, ...(options.progressEvery === undefined ? {} : { progressEvery: options.progressEvery }) },
        ),
      );
    } finally {
      base.model.dispose();
    }
    let seen = 0;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const t = Date.now();
      const trained = await trainRecipe(loaded, {
        output: join(modelDir, 'train'),
        resume: epoch > 1,
        overwrite: epoch === 1,
        maxSteps: epoch * perEpoch,
        log,
        env,
      });
      const trainSeconds = (Date.now() - t) / 1000;
      try {
        const stepLosses = trained.result.losses.slice(seen);
        seen = trained.result.losses.length;
        losses[spec.name] = [...trained.result.losses];
        const trainLoss = stepLosses.length === 0 ? null : stepLosses.reduce((a, b) => a + b, 0) / stepLosses.length;
        rows.push(
          await evaluateEpoch(
            trained.model,
            trained.tokenizer,
            items,
            { model: spec.name, epoch, step: trained.result.step, trainLoss, trainSeconds },
            join(modelDir, `epoch_${epoch}`),
            { log, ...(options.progressEvery === undefined ? {} : { progressEvery: options.progressEvery }) },
          ),
        );
      } finally {
        trained.model.dispose();
      }
    }
  }
  const files = await rebuildF1Report(out);
  const seconds = (Date.now() - t0) / 1000;
  for (const line of (await readFile(files.summaryResults, 'utf8')).trim().split('\n')) log(`[f1] ${line}`);
  log(`[f1] ${seconds.toFixed(1)} s; report ${files.summary}`);
  return { out, epochs: rows, losses, files, seconds };
}
