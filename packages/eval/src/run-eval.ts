import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '@lora/core';
import { type CausalLM, type TextTokenizer, loadModel } from '@lora/models';
import { loadPeftModel } from '@lora/peft';
import { METRIC_KINDS, type MetricSpec, scorePredictions } from './metrics/score.js';
import { aliasNormalizer } from './metrics/normalize.js';
import {
  type ComparisonFiles,
  METRICS_FORMAT_VERSION,
  REPORT_FILES,
  type RunMetrics,
  checkRunName,
  readRuns,
  writeComparison,
  writeRunMetrics,
} from './reports/report.js';
import { type PredictionRecord, readPredictions } from './runner/predictions.js';
import { summarizeLatency } from './runner/stats.js';
import { type GenerationProgress, type GenerationSettings, type GenerationStats, runGeneration } from './runner/run-generation.js';
import { type TestExample, readTestSet, toTestSet } from './runner/test-set.js';

/**
 * One configuration to evaluate in the same process (base model, an adapter, a sampling
 * setting…). `activate` runs before the variant's generation (e.g. `peft.setAdapter('carbot')`);
 * `wrap`, when given, runs the generation inside it (e.g. `(fn) => peft.disableAdapter(fn)` for the
 * base model).
 */
export interface Variant {
  name: string;
  activate?: () => void | Promise<void>;
  wrap?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Generation settings that override the shared ones for this variant. */
  generation?: GenerationSettings;
}

/**
 * Variants comparing a PEFT model's base (adapters disabled) with each of its adapters:
 * `[{ name: 'base' }, { name: '<adapter>' }, …]`.
 */
export function adapterVariants(
  peft: {
    readonly adapterNames: readonly string[];
    setAdapter(name: string): void;
    disableAdapter<T>(fn: () => T): T;
  },
  options: { baseName?: string; adapters?: readonly string[] } = {},
): Variant[] {
  return [
    { name: options.baseName ?? 'base', wrap: (fn) => peft.disableAdapter(fn) },
    ...(options.adapters ?? peft.adapterNames).map((a) => ({ name: a, activate: () => peft.setAdapter(a) })),
  ];
}

/**
 * A task's own scores of one run, from {@link EvaluateVariantsOptions.taskMetrics}: added to the
 * run's metrics after the built-in ones (same names overwrite), so reports, tables and plots
 * show them.
 */
export interface TaskMetrics {
  /** Scores of the raw predictions. */
  raw?: Record<string, number>;
  /** Scores after the normalisation hook; kept only when the run has a normalised pass (`normalize`). */
  normalized?: Record<string, number>;
  /** Per-example values merged into `details.raw.perExample` (by example id). */
  perExample?: Record<string, Record<string, number | string>>;
}

/** Options of {@link evaluateVariants}. */
export interface EvaluateVariantsOptions extends GenerationSettings {
  model: CausalLM;
  tokenizer: TextTokenizer;
  examples: readonly TestExample[];
  /** Report folder: predictions_<run>.jsonl, metrics_<run>.json, comparison files, plots/. */
  outDir: string;
  metrics: readonly MetricSpec[];
  /** Default: one variant named `model` (the model as given). */
  variants?: readonly Variant[];
  normalize?: (value: unknown) => unknown;
  batchSize?: number;
  formatPrompt?: (example: TestExample) => string;
  addBos?: boolean;
  /** Store each output's probability for calibration metrics. Default: true when a `calibration` metric is asked for. */
  confidence?: boolean;
  onProgress?: (variant: string, progress: GenerationProgress) => void;
  /** Facts stored in every metrics file (model path, adapter dirs…). */
  meta?: Record<string, unknown>;
  /**
   * The task's own metrics of each variant (a task parser's accuracy, a validation loss…), given
   * the variant's prediction records in test-set order; added to `metrics_<run>.json` before the
   * comparison is written.
   */
  taskMetrics?: (records: readonly PredictionRecord[], variant: string) => TaskMetrics | Promise<TaskMetrics>;
}

/** Result of {@link evaluateVariants} and {@link runEval}. */
export interface EvalResult {
  runs: RunMetrics[];
  files: ComparisonFiles;
  outDir: string;
}

/**
 * Generates and scores every variant in turn on one model in one process, then writes the
 * comparison of all runs saved in `outDir` (see `writeComparison`). Predictions resume per variant: rerunning after a crash
 * only generates what is missing.
 *
 * @example
 * ```ts
 * const peft = await loadPeftModel(model, 'adapters/carbot');
 * await evaluateVariants({ model: peft, tokenizer, examples, outDir: 'out/eval', metrics: [{ kind: 'json_exact_match' }], variants: adapterVariants(peft) });
 * ```
 */
export async function evaluateVariants(options: EvaluateVariantsOptions): Promise<EvalResult> {
  const variants = options.variants ?? [{ name: 'model' }];
  if (variants.length === 0) throw new InvalidArgumentError({ argument: 'variants', message: 'give at least one variant.' });
  const seen = new Set<string>();
  for (const v of variants) {
    checkRunName(v.name);
    if (seen.has(v.name)) throw new InvalidArgumentError({ argument: 'variants', message: `two variants are named "${v.name}".` });
    seen.add(v.name);
  }
  mkdirSync(options.outDir, { recursive: true });
  const runs: RunMetrics[] = [];
  for (const variant of variants) {
    const fresh = await generateVariant(options, variant);
    runs.push(await scoreVariant(options, variant, fresh));
  }
  // The comparison covers every run saved in the folder (this call's and earlier ones), as rebuildReport does.
  return { runs, files: writeComparison(options.outDir, readRuns(options.outDir)), outDir: options.outDir };
}

/** Where {@link generateVariant} reads and writes, when not the report folder's whole test set. */
export interface VariantSlice {
  /** Examples to generate (default: all of `options.examples`). */
  examples?: readonly TestExample[];
  /** Predictions file (default: `<outDir>/predictions_<variant>.jsonl`). */
  outFile?: string;
}

/**
 * Generates one variant's predictions exactly as {@link evaluateVariants} does (same settings,
 * batches and seeds), optionally on a slice of the test set into another file: a queue worker
 * generates a shard with it. Batches are cut from the start of `slice.examples`, so a slice that
 * starts on a batch boundary of the whole set gives the same batches, hence the same tokens.
 */
export async function generateVariant(
  options: EvaluateVariantsOptions,
  variant: Variant,
  slice: VariantSlice = {},
): Promise<GenerationStats> {
  const confidence = options.confidence ?? options.metrics.some((m) => m.kind === 'calibration');
  await variant.activate?.();
  const outFile = slice.outFile ?? join(options.outDir, REPORT_FILES.predictions(variant.name));
  const settings = variantSettings(options, variant);
  const generateAll = () =>
    runGeneration({
      ...settings,
      model: options.model,
      tokenizer: options.tokenizer,
      examples: slice.examples ?? options.examples,
      outFile,
      variant: variant.name,
      confidence,
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      ...(options.formatPrompt === undefined ? {} : { formatPrompt: options.formatPrompt }),
      ...(options.addBos === undefined ? {} : { addBos: options.addBos }),
      ...(options.onProgress === undefined ? {} : { onProgress: (p: GenerationProgress) => options.onProgress?.(variant.name, p) }),
    });
  return variant.wrap === undefined ? await generateAll() : await variant.wrap(generateAll);
}

/** The options {@link scoreVariant} reads: those of {@link evaluateVariants} without the model. */
export type ScoreVariantOptions = Pick<EvaluateVariantsOptions, 'outDir' | 'metrics' | 'normalize' | 'meta' | 'taskMetrics'> &
  GenerationSettings & {
    /** The examples scored (only their ids are read). */
    examples: readonly Pick<TestExample, 'id'>[];
  };

/**
 * Scores the predictions saved in `<outDir>/predictions_<variant>.jsonl` for `options.examples`
 * and writes `metrics_<variant>.json`, as {@link evaluateVariants} does after generating; `fresh`
 * is what the generation measured (a queue coordinator passes the merged shards' facts). A
 * `taskMetrics` hook adds the task's own scores, as in {@link evaluateVariants}.
 */
export async function scoreVariant(
  options: ScoreVariantOptions,
  variant: Pick<Variant, 'name' | 'generation'>,
  fresh: GenerationStats,
): Promise<RunMetrics> {
  const predictionsFile = REPORT_FILES.predictions(variant.name);
  const wanted = new Set(options.examples.map((e) => e.id));
  const records = readPredictions(join(options.outDir, predictionsFile)).filter((r) => wanted.has(r.id));
  const stats = mergeStats(fresh, records, previousStats(options.outDir, variant.name));
  const score = scorePredictions(records, options.metrics, options.normalize === undefined ? {} : { normalize: options.normalize });
  if (options.taskMetrics !== undefined) addTaskMetrics(score, await options.taskMetrics(records, variant.name));
  const run: RunMetrics = {
    formatVersion: METRICS_FORMAT_VERSION,
    run: variant.name,
    createdAt: new Date().toISOString(),
    count: records.length,
    predictionsFile,
    metrics: { raw: score.raw, ...(score.normalized === undefined ? {} : { normalized: score.normalized }) },
    details: score.details,
    stats,
    meta: { ...(options.meta ?? {}), generation: variantSettings(options, variant) },
  };
  writeRunMetrics(options.outDir, run);
  return run;
}

function variantSettings(options: GenerationSettings, variant: Pick<Variant, 'generation'>): GenerationSettings {
  return { ...pickSettings(options), ...(variant.generation ?? {}) };
}

/** Merges a task's own metrics into the built-in scores of a run (see {@link TaskMetrics}). */
function addTaskMetrics(score: ReturnType<typeof scorePredictions>, task: TaskMetrics): void {
  Object.assign(score.raw, task.raw ?? {});
  if (score.normalized !== undefined) Object.assign(score.normalized, task.normalized ?? {});
  if (task.perExample !== undefined) {
    const per = (score.details.raw.perExample ??= {});
    for (const [id, v] of Object.entries(task.perExample)) per[id] = { ...(per[id] ?? {}), ...v };
  }
}

function previousStats(dir: string, run: string): GenerationStats | undefined {
  try {
    return readRuns(dir).find((r) => r.run === run)?.stats;
  } catch {
    return undefined;
  }
}

/**
 * Runtime facts of a run whose predictions may span several calls (resume): latency over every
 * saved line; throughput and peak memory from this call, or from the previous call when this one
 * had nothing left to generate.
 */
function mergeStats(fresh: GenerationStats, records: readonly PredictionRecord[], previous: GenerationStats | undefined): GenerationStats {
  const latencies = records.map((r) => r.latencyMs).filter((x): x is number => x !== undefined);
  const base =
    fresh.generated === 0 && previous !== undefined
      ? { ...previous, resumed: fresh.resumed, generated: 0, total: fresh.total, wallMs: fresh.wallMs }
      : fresh;
  return { ...base, latencyMs: summarizeLatency(latencies) };
}

function pickSettings(o: GenerationSettings): GenerationSettings {
  const keys = ['maxNewTokens', 'temperature', 'topK', 'topP', 'seed', 'stopTokenIds', 'stop', 'minNewTokens'] as const;
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out as GenerationSettings;
}

/** A metric given by name (default options) or as a full spec. */
export type MetricInput = MetricSpec | MetricSpec['kind'];

/**
 * The resolved configuration `lora eval` passes to {@link runEval}. Paths are absolute or
 * relative to the working directory.
 */
export interface RunEvalOptions {
  /** A model folder / llama2.c file (loaded with `loadModel`) or a loaded model. */
  model: string | CausalLM;
  /** The tokenizer (the CLI resolves it, e.g. with `@lora/data`). */
  tokenizer: TextTokenizer;
  /** Test set file (.jsonl or .json array of `{id, prompt | messages, reference?}`); or give `examples`. */
  testFile?: string;
  examples?: readonly unknown[];
  /** Evaluate only the first N examples. */
  limit?: number;
  metrics: readonly MetricInput[];
  outDir: string;
  /**
   * PEFT adapter folders to compare against the base model (`--adapter DIR`): variants become
   * `base` plus one per adapter (named by `name`, default the folder's last path part).
   * Ignored when `variants` is given.
   */
  adapters?: readonly { dir: string; name?: string }[];
  /** Explicit variants (they switch the model themselves). */
  variants?: readonly Variant[];
  generation?: GenerationSettings;
  batchSize?: number;
  /** Normalisation hook, or an alias table turned into one with `aliasNormalizer`. */
  normalize?: (value: unknown) => unknown;
  aliases?: Readonly<Record<string, string>>;
  formatPrompt?: (example: TestExample) => string;
  addBos?: boolean;
  confidence?: boolean;
  onProgress?: (variant: string, progress: GenerationProgress) => void;
}

/**
 * Runs a whole evaluation from a resolved config: loads the model (and adapters), reads the test
 * set, generates with every variant, scores, and writes the report folder.
 *
 * @example
 * ```ts
 * await runEval({ model: 'models/Qwen3-0.6B', tokenizer, testFile: 'test.jsonl', metrics: ['json_exact_match', 'slot_f1', 'json_valid'],
 *   outDir: 'out/eval', adapters: [{ dir: 'out/adapter', name: 'lora' }], generation: { maxNewTokens: 128 } });
 * ```
 */
export async function runEval(options: RunEvalOptions): Promise<EvalResult> {
  return evaluateVariants(await prepareEval(options));
}

/**
 * What {@link runEval} evaluates, resolved without generating: the test set read and cut to
 * `limit`, metrics parsed, the model and adapters loaded (variants `base` + one per adapter), the
 * normaliser built. A queue worker prepares once and generates shards with {@link generateVariant}.
 */
export async function prepareEval(options: RunEvalOptions): Promise<EvaluateVariantsOptions> {
  let examples: TestExample[];
  if (options.examples !== undefined) examples = toTestSet(options.examples);
  else if (options.testFile !== undefined) examples = await readTestSet(options.testFile);
  else throw new InvalidArgumentError({ argument: 'testFile', message: 'give a test file (or `examples`).' });
  if (options.limit !== undefined) examples = examples.slice(0, options.limit);
  const metrics = resolveMetrics(options.metrics);
  const loaded = typeof options.model === 'string' ? (await loadModel(options.model)).model : options.model;
  let model: CausalLM = loaded;
  let variants = options.variants;
  const adapters = options.adapters ?? [];
  if (variants === undefined && adapters.length > 0) {
    const names = adapterNames(adapters);
    const [first, ...rest] = adapters;
    const peft = await loadPeftModel(loaded, (first as { dir: string }).dir, { adapterName: names[0] as string });
    for (let i = 0; i < rest.length; i++) await peft.loadAdapter((rest[i] as { dir: string }).dir, { adapterName: names[i + 1] as string });
    model = peft;
    variants = adapterVariants(peft, { adapters: names });
  }
  const normalize = options.normalize ?? (options.aliases === undefined ? undefined : aliasNormalizer(options.aliases));
  return {
    ...(options.generation ?? {}),
    model,
    tokenizer: options.tokenizer,
    examples,
    outDir: options.outDir,
    metrics,
    ...(variants === undefined ? {} : { variants }),
    ...(normalize === undefined ? {} : { normalize }),
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    ...(options.formatPrompt === undefined ? {} : { formatPrompt: options.formatPrompt }),
    ...(options.addBos === undefined ? {} : { addBos: options.addBos }),
    ...(options.confidence === undefined ? {} : { confidence: options.confidence }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    meta: evalMeta(options),
  };
}

/** Metric names or specs as {@link runEval} takes them, checked and turned into specs. */
export function resolveMetrics(inputs: readonly MetricInput[]): MetricSpec[] {
  return inputs.map((m): MetricSpec => {
    if (typeof m !== 'string') return m;
    if (m === 'schema_valid' || m === 'calibration') {
      throw new InvalidArgumentError({
        argument: 'metrics',
        message: `"${m}" needs options (${m === 'schema_valid' ? 'a schema' : 'what counts as correct'}); pass it as an object.`,
      });
    }
    if (!(METRIC_KINDS as readonly string[]).includes(m))
      throw new InvalidArgumentError({ argument: 'metrics', message: `unknown metric "${m}"; use one of ${METRIC_KINDS.join(', ')}.` });
    return { kind: m } as MetricSpec;
  });
}

/** The run names {@link runEval} gives adapters: `name`, else the folder's last path part. */
export function adapterNames(adapters: readonly { dir: string; name?: string }[]): string[] {
  return adapters.map(
    (a) =>
      a.name ??
      a.dir
        .replace(/[\\/]+$/, '')
        .split(/[\\/]/)
        .pop() ??
      'adapter',
  );
}

/**
 * The variant names {@link runEval} evaluates for these options, without loading anything:
 * `variants`' names, else `base` + the adapters' names, else `model`.
 */
export function evalVariantNames(options: Pick<RunEvalOptions, 'adapters' | 'variants'>): string[] {
  if (options.variants !== undefined) return options.variants.map((v) => v.name);
  const adapters = options.adapters ?? [];
  return adapters.length > 0 ? ['base', ...adapterNames(adapters)] : ['model'];
}

/** The facts {@link runEval} stores in every metrics file's `meta`. */
export function evalMeta(options: Pick<RunEvalOptions, 'model' | 'adapters' | 'testFile'>): Record<string, unknown> {
  return {
    model: typeof options.model === 'string' ? options.model : 'in-memory',
    adapters: (options.adapters ?? []).map((a) => a.dir),
    testFile: options.testFile ?? 'in-memory',
  };
}

/** The part of `@lora/peft`'s `PeftModel` that {@link adapterVariants} needs. */
export type AdapterSwitch = Parameters<typeof adapterVariants>[0];
