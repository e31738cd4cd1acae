import { writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetricSpec, RunMetrics } from '@lora/eval';
import { REPORT_FILES } from '@lora/eval/internal';
import { type CreateJudgeModelOptions, type PairwiseSummary, runPairwise } from '@lora/judge';
import { compareAdapter, loadRecipe, type PipelineOptions, type TrainingSummary } from '@lora/recipe';
import { choosePreset, reportFiles, trainingSection } from '@lora/recipe/internal';
import { z } from 'zod';
import { carbotJsonSchema } from './catalog.js';
import { hasCarbotDataset, writeCarbotDataset, type CarbotDatasetOptions } from './dataset.js';
import { carbotNormalizer, scoreCarbotPredictions, type GoldAction } from './scoring.js';

/** A row of the generated test split: the conversation and the gold action. */
const CarbotTestRowSchema = z.looseObject({
  id: z.union([z.string(), z.number()]),
  messages: z.array(z.looseObject({ role: z.string(), content: z.unknown().optional() })),
  intent: z.string(),
  args: z.record(z.string(), z.unknown()).optional(),
});

/** A named configuration of the pipeline: the recipe file and the data generator settings. */
export interface CarbotPreset {
  /** Recipe file in `examples/carbot/recipes/`. */
  recipe: string;
  /** Generator settings for `<out>/data` (used when that folder has no data yet). */
  data: CarbotDatasetOptions;
}

/** Folder of the recipe files shipped with this example. */
export const CARBOT_RECIPES_DIR = fileURLToPath(new URL('../recipes/', import.meta.url));

/**
 * The presets: `main` (the main job, `pnpm demo`: SmolLM2-135M-Instruct from its GGUF file, 2000
 * examples with the seed's system prompt, LoRA on the tensorflow backend), `smoke` (stories260K,
 * 480 examples without the system prompt, about 100 steps on wasm: minutes on 2 cores, for CI) and
 * `full` (2000 examples with the system prompt; point the recipe's `model:` at a larger checkpoint).
 */
export const CARBOT_PRESETS = {
  main: { recipe: 'main.yaml', data: { n: 2000, seed: 42, system: true } },
  smoke: { recipe: 'smoke.yaml', data: { n: 480, seed: 42, system: false } },
  full: { recipe: 'full.yaml', data: { n: 2000, seed: 42, system: true } },
} as const satisfies Record<string, CarbotPreset>;

/** Name of a preset. */
export type CarbotPresetName = keyof typeof CARBOT_PRESETS;

/** A judge API for the optional judge pass: provider, model, base URL, key (else from the environment). */
export type JudgeSettings = Pick<CreateJudgeModelOptions, 'provider' | 'model' | 'baseUrl' | 'apiKey'>;

/** Options of {@link runPipeline}. */
export interface RunPipelineOptions extends PipelineOptions {
  /** Preset (default `smoke`); ignored for the recipe when `recipeFile` is given. */
  preset?: CarbotPresetName;
  /** Pairwise judge of base vs adapter answers; skipped when absent. */
  judge?: JudgeSettings;
  /** Override of the generator's example count (new data folders only). */
  examples?: number;
}

/** What {@link runPipeline} produced. */
export interface PipelineResult {
  out: string;
  /** Report files: summary markdown, CSV table, plots, per-run metrics and predictions, summary JSON. */
  files: {
    summary: string;
    table: string;
    plots: string[];
    metrics: string[];
    predictions: string[];
    pipelineSummary: string;
    lossPlot: string;
  };
  /** Training losses: first and last optimizer step, last validation loss, steps run. */
  train: TrainingSummary;
  /** One entry per variant (`base`, `lora`). */
  runs: RunMetrics[];
  /** Pairwise judge summary, when a judge was configured. */
  judge?: PairwiseSummary;
  /** Wall time of the whole pipeline in ms. */
  wallMs: number;
}

/** Metrics of the CarBot report (JSON read inside the `<ACTION>` tag). */
export function carbotMetrics(): MetricSpec[] {
  return [
    { kind: 'json_exact_match', tag: 'ACTION' },
    { kind: 'slot_f1', tag: 'ACTION' },
    { kind: 'schema_valid', schema: carbotJsonSchema(), tag: 'ACTION' },
    { kind: 'json_valid', tag: 'ACTION' },
  ];
}

const JUDGE_CRITERIA =
  'The user speaks to an in-car assistant. A good answer is exactly `<ACTION>{json}</ACTION>` on one line and `<SAY>…</SAY>` ' +
  'on the next, where the JSON names the right car function with the right arguments for the request, and the SAY line confirms it briefly.';

/**
 * The CarBot recipe end to end: generate the data into `<out>/data` (unless present) → train the
 * recipe's LoRA adapter (`<out>/train`: adapter files, checkpoints, loss plots) → evaluate the
 * base model (adapter disabled) and the adapter in one process on the test split → optional
 * pairwise judge (both orders, Bradley–Terry) → report in `<out>`: `comparison_summary.md`,
 * `comparison_table.csv`, `metrics_<run>.json`, `predictions_<run>.jsonl`, `plots/*.svg`,
 * `pipeline_summary.json`.
 *
 * Metrics: action JSON exact match and slot micro/macro-F1 (raw, and after the alias layer in the
 * "normalized" table), schema-valid rate (the catalog's JSON Schema), JSON-valid strict/lenient,
 * the CarBot parser's action EM (strict layout vs lenient + aliases), latency mean/p95 and peak
 * tensor memory.
 *
 * @example
 * ```ts
 * const { files } = await runPipeline({ preset: 'smoke', out: 'runs/carbot-smoke' });
 * console.log(files.summary);
 * ```
 */
export async function runPipeline(options: RunPipelineOptions): Promise<PipelineResult> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const preset = choosePreset<CarbotPreset>(CARBOT_PRESETS, options.preset, 'smoke');
  const out = resolve(options.out);
  const dataDir = join(out, 'data');
  if (!hasCarbotDataset(dataDir)) {
    const written = writeCarbotDataset(dataDir, { ...preset.data, ...(options.examples === undefined ? {} : { n: options.examples }) });
    log(`[carbot] generated ${written.counts.train} / ${written.counts.validation} / ${written.counts.test} examples into ${dataDir}`);
  } else {
    log(`[carbot] using the data in ${dataDir}`);
  }
  const recipeFile = options.recipeFile ?? join(CARBOT_RECIPES_DIR, preset.recipe);
  const env = { ...(options.env ?? process.env), CARBOT_DATA: dataDir };
  const loaded = await loadRecipe(recipeFile, env);
  const gold = new Map<string, GoldAction>();
  const { maxSteps, evalLimit, maxNewTokens } = options;
  const {
    runs,
    files: report,
    train,
    trained,
    trainMs,
    evalMs,
  } = await compareAdapter(loaded, {
    out,
    label: 'carbot',
    log,
    env,
    maxSteps,
    evalLimit,
    maxNewTokens,
    validationLoss: true,
    testRows: {
      schema: CarbotTestRowSchema,
      toExample: (row) => {
        const action = { name: row.intent, args: row.args ?? {} };
        gold.set(String(row.id), action);
        return { id: String(row.id), messages: row.messages, reference: action };
      },
    },
    metrics: carbotMetrics(),
    evaluate: {
      normalize: carbotNormalizer,
      // The stories template has no end-of-turn token: the next turn's "User:" ends the answer.
      ...(loaded.recipe.data.chatTemplate === 'stories' ? { stop: ['\nUser:'] } : {}),
      // The CarBot parser's own EM (strict layout vs lenient + aliases).
      taskMetrics: (records) => {
        const parsed = scoreCarbotPredictions(
          records.map((p) => ({ id: p.id, prediction: p.prediction, gold: gold.get(p.id) as GoldAction })),
        );
        return {
          raw: {
            'carbot.action_em': parsed.actionEmStrict,
            'carbot.intent_accuracy': parsed.intentAccuracyStrict,
            'carbot.name_mentioned': parsed.nameMentioned,
          },
          normalized: { 'carbot.action_em': parsed.actionEmLenient, 'carbot.intent_accuracy': parsed.intentAccuracyLenient },
          perExample: parsed.perExample,
        };
      },
    },
  });

  let judge: PairwiseSummary | undefined;
  if (options.judge !== undefined) {
    log(`[carbot] pairwise judge ${options.judge.provider}/${options.judge.model}: base vs lora, both orders`);
    judge = await runPairwise({
      a: join(out, REPORT_FILES.predictions('base')),
      b: join(out, REPORT_FILES.predictions('lora')),
      nameA: 'base',
      nameB: 'lora',
      ...options.judge,
      out: join(out, 'judge'),
      criteria: JUDGE_CRITERIA,
    });
    await appendFile(report.summary, judgeSection(judge));
  }
  const wallMs = performance.now() - started;
  await appendFile(report.summary, trainingSection(train, wallMs));
  const pipelineSummary = join(out, 'pipeline_summary.json');
  const judgeSummary =
    judge === undefined
      ? {}
      : { judge: { wins: judge.wins, ties: judge.ties, losses: judge.losses, winRate: judge.winRate, bradleyTerry: judge.bradleyTerry } };
  const runSummary = (r: RunMetrics) => [
    r.run,
    { metrics: r.metrics, latencyMs: r.stats?.latencyMs, peakTensorBytes: r.stats?.peakTensorBytes },
  ];
  const summary = {
    recipe: recipeFile,
    model: loaded.recipe.model,
    train,
    wallMs,
    // The stages' wall times: training (with its evaluation and checkpoints), then the variants'
    // validation loss, generation and scoring (the speed issue's W9 "eval stage").
    stageMs: { train: trainMs, eval: evalMs },
    runs: Object.fromEntries(runs.map(runSummary)),
    ...judgeSummary,
  };
  writeFileSync(pipelineSummary, `${JSON.stringify(summary, null, 2)}\n`);
  log(formatSummary(runs, train, wallMs, judge, { train: trainMs, eval: evalMs }));
  const files = { ...reportFiles(out, report, runs, trained.output), pipelineSummary };
  return { out, files, train, runs, ...(judge === undefined ? {} : { judge }), wallMs };
}

function judgeSection(j: PairwiseSummary): string {
  const bt = Object.entries(j.bradleyTerry).map(
    ([name, r]) => `${name} ${r.rating.toFixed(0)} [${r.lower.toFixed(0)}, ${r.upper.toFixed(0)}]`,
  );
  return [
    '',
    '## Pairwise judge (base = A, lora = B)',
    '',
    `Judge: ${j.judge.provider}/${j.judge.model}; ${j.judged} items judged in both orders (${j.inconsistent} order disagreements counted as ties).`,
    '',
    `| base wins | ties | lora wins | base win rate | Bradley–Terry (95% CI) |`,
    `|---:|---:|---:|---:|---|`,
    `| ${j.wins} | ${j.ties} | ${j.losses} | ${j.winRate.toFixed(3)} | ${bt.join('; ')} |`,
    '',
  ].join('\n');
}

const SUMMARY_KEYS: [string, 'raw' | 'normalized'][] = [
  ['validation_loss', 'raw'],
  ['carbot.name_mentioned', 'raw'],
  ['carbot.action_em', 'raw'],
  ['carbot.action_em', 'normalized'],
  ['json_exact_match', 'raw'],
  ['json_exact_match', 'normalized'],
  ['slot_f1.micro', 'raw'],
  ['slot_f1.macro', 'raw'],
  ['schema_valid', 'raw'],
  ['json_valid.strict', 'raw'],
  ['json_valid.lenient', 'raw'],
];

/** Width of a run's column in the summary (fits `mean/p95` latencies of tens of seconds). */
const COLUMN = 14;

/** The short text summary printed at the end of a pipeline run. */
export function formatSummary(
  runs: readonly RunMetrics[],
  train: PipelineResult['train'],
  wallMs: number,
  judge?: PairwiseSummary,
  stageMs?: { train: number; eval: number },
): string {
  const names = runs.map((r) => r.run);
  const lines = [`metric${' '.repeat(34)}${names.map((n) => n.padStart(COLUMN)).join('')}`];
  for (const [key, pass] of SUMMARY_KEYS) {
    const label = pass === 'normalized' ? `${key} (aliases)` : key;
    lines.push(`${label.padEnd(40)}${runs.map((r) => fmt(r.metrics[pass]?.[key]).padStart(COLUMN)).join('')}`);
  }
  lines.push(
    `${'latency mean / p95 ms'.padEnd(40)}${runs.map((r) => `${fmt(r.stats?.latencyMs.mean, 0)}/${fmt(r.stats?.latencyMs.p95, 0)}`.padStart(COLUMN)).join('')}`,
  );
  lines.push(
    `${'peak tensor MB'.padEnd(40)}${runs.map((r) => fmt(r.stats === undefined ? undefined : r.stats.peakTensorBytes / 2 ** 20, 1).padStart(COLUMN)).join('')}`,
  );
  lines.push(
    `train loss ${train.firstLoss.toFixed(3)} → ${train.lastLoss.toFixed(3)} in ${train.steps} steps; total ${(wallMs / 1000).toFixed(1)} s` +
      (stageMs === undefined ? '' : ` (training ${(stageMs.train / 1000).toFixed(1)} s, evaluation ${(stageMs.eval / 1000).toFixed(1)} s)`),
  );
  if (judge !== undefined) lines.push(`judge: base ${judge.wins} wins, ${judge.ties} ties, lora ${judge.losses} wins`);
  return lines.join('\n');
}

function fmt(v: number | undefined, digits = 3): string {
  return v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}
