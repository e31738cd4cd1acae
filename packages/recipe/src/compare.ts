import { join } from 'node:path';
import { InvalidArgumentError } from '@lora/core';
import { type Tokenizer, readDataset } from '@lora/data';
import {
  type ComparisonFiles,
  type EvalResult,
  type EvaluateVariantsOptions,
  type MetricSpec,
  type RunMetrics,
  type TestExample,
  type Variant,
  evaluateVariants,
  toTestSet,
} from '@lora/eval';
import { promptRowsFromChats, REPORT_FILES } from '@lora/eval/internal';
import { PeftModel } from '@lora/peft';
import { withDequantizedWeights } from '@lora/quant';
import type { z } from 'zod';
import { chatRenderer, recipeChatTemplate } from './prepare.js';
import type { LoadedRecipe, Recipe } from './recipe.js';
import { validationLoss } from './split.js';
import { evalProgressText } from './progress.js';
import { type TrainRecipeResult, trainRecipe } from './train-recipe.js';

/** What {@link compareAdapter}'s hooks are given once the adapter is trained. */
export interface CompareContext {
  loaded: LoadedRecipe;
  /** The recipe's `evaluation` section with the `evalLimit` / `maxNewTokens` overrides applied. */
  evaluation: NonNullable<Recipe['evaluation']>;
  /** The trained PEFT model (disposed by {@link compareAdapter} when it returns). */
  model: PeftModel;
  tokenizer: Tokenizer;
  /** The chat template text the recipe asks for; undefined for the tokenizer's own. */
  chatTemplate: string | undefined;
  /** Renders a conversation as a prompt (generation prompt added) with the recipe's chat template. */
  render(messages: readonly { role: string; content?: unknown }[]): string;
}

/**
 * What every example pipeline takes (extend it with the example's own options): the output folder,
 * a recipe of your own, the overrides of the recipe's step count and evaluation, progress lines
 * and the environment.
 */
export interface PipelineOptions {
  /** Output folder: `data/`, `train/` and the report files. */
  out: string;
  /** A recipe file of your own instead of the preset's (its `${<EXAMPLE>_DATA}` is the data folder). */
  recipeFile?: string | undefined;
  /** Override of `training.maxSteps`. */
  maxSteps?: number | undefined;
  /** Override of `evaluation.limit`. */
  evalLimit?: number | undefined;
  /** Override of `evaluation.maxNewTokens`. */
  maxNewTokens?: number | undefined;
  /** Progress lines (default stderr). */
  log?: ((line: string) => void) | undefined;
  /** Environment (asset resolver, backend, API keys); default `process.env`. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/** Losses of a training run as the reports show them. */
export interface TrainingSummary {
  /** Loss of the first and last optimizer step (NaN without steps). */
  firstLoss: number;
  lastLoss: number;
  /** Last validation loss, when the run evaluated. */
  evalLoss?: number;
  steps: number;
}

/** What {@link compareAdapter} produced. */
export interface CompareAdapterResult extends EvalResult {
  /** The training run (its model already disposed). */
  trained: Omit<TrainRecipeResult, 'model' | 'tokenizer'>;
  train: TrainingSummary;
  /** Wall time of the training, then of the evaluation, in ms. */
  trainMs: number;
  evalMs: number;
  /** The test examples the variants answered. */
  examples: TestExample[];
  /** Test prompts left out by `dropLongPrompts`. */
  skippedLongPrompts: number;
  /** Validation loss per variant, with `validationLoss`. */
  validation?: Record<string, number | undefined>;
  /** One result per `extraSets` entry. */
  extra: EvalResult[];
}

/**
 * The base-vs-adapter comparison every example runs: trains the recipe's adapter into
 * `<out>/train` (starting the run over unless `resume`), then, on the trained model in the same
 * process, generates the test split with the adapter disabled (`base`) and enabled (`lora`) — a
 * 4-bit base dequantized once for all of it — with the recipe's `evaluation` settings, scores it
 * with `metrics` (+ the `taskMetrics` hook and, optionally, each variant's validation loss), and
 * writes the standard report into `out` (`predictions_<run>.jsonl`, `metrics_<run>.json`,
 * `comparison_summary.md`, `comparison_table.csv`, `plots/`). The recipe needs an `evaluation`
 * section (checked before training) and an adapter. The model is disposed before it returns.
 *
 * @example
 * ```ts
 * const loaded = await loadRecipe('examples/carbot/recipes/smoke.yaml', env);
 * const { runs, files } = await compareAdapter(loaded, {
 *   out: 'runs/carbot',
 *   testRows: { schema: RowSchema, toExample: (row, { render }) => ({ id: row.id, prompt: render(row.messages) }) },
 *   metrics: [{ kind: 'json_exact_match' }],
 * });
 * ```
 */
export async function compareAdapter<Row>(
  loaded: LoadedRecipe,
  options: Omit<PipelineOptions, 'recipeFile'> & {
    /** Report folder; the adapter is trained into `<out>/train`. */
    out: string;
    /** Resume training from the latest checkpoint in `<out>/train` instead of starting the run over. */
    resume?: boolean | undefined;
    /**
     * The test examples: `{id, prompt, reference?, …}`, or `{id, messages, …}` rendered with the
     * recipe's chat template up to the last assistant turn, which becomes the reference (`@lora/eval`'s
     * `promptRowsFromChats`). They come from rows of `evaluation.test` read with a zod schema and
     * mapped one by one, or from a function returning the examples (for a reader of your own).
     */
    testRows:
      | { schema: z.ZodType<Row>; toExample: (row: Row, context: CompareContext) => unknown }
      | ((context: CompareContext) => readonly unknown[] | Promise<readonly unknown[]>);
    metrics: readonly MetricSpec[];
    /** Drop the test prompts that leave no room for `maxNewTokens` within the context (counted in the result). */
    dropLongPrompts?: boolean;
    /** Add each variant's validation loss (recipe's validation split) as the `validation_loss` metric. */
    validationLoss?: boolean;
    /** Name of the base run (adapter disabled). Default `base`. */
    baseName?: string;
    /** Name of the adapter run. Default `lora`. */
    adapterName?: string;
    /** The variants to compare instead of base and adapter (e.g. one per checkpoint). */
    variants?: (context: CompareContext) => readonly Variant[] | Promise<readonly Variant[]>;
    /** Facts stored in every metrics file; default `{recipe, model, adapter}`, `null` for none. */
    meta?: Record<string, unknown> | null;
    /** Further test sets every variant answers with the same settings (a safety probe…), each in its own folder. */
    extraSets?: readonly { outDir: string; examples: (context: CompareContext) => readonly unknown[] | Promise<readonly unknown[]> }[];
    /** Generation and scoring settings passed on to `evaluateVariants` (`stop`, `normalize`, `taskMetrics`…). */
    evaluate?: Pick<EvaluateVariantsOptions, 'stop' | 'normalize' | 'taskMetrics' | 'confidence' | 'topK' | 'topP' | 'seed'>;
    /** Prefix of the progress lines, e.g. `carbot`. Default `lora`. */
    label?: string;
  },
): Promise<CompareAdapterResult> {
  const { recipe } = loaded;
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const label = `[${options.label ?? 'lora'}]`;
  if (recipe.evaluation === undefined)
    throw new InvalidArgumentError({
      argument: 'evaluation',
      message: `${loaded.file} has no \`evaluation:\` section; add one with \`test:\` (the test split).`,
    });
  const evaluation = {
    ...recipe.evaluation,
    ...(options.evalLimit === undefined ? {} : { limit: options.evalLimit }),
    ...(options.maxNewTokens === undefined ? {} : { maxNewTokens: options.maxNewTokens }),
  };
  const started = performance.now();
  const trained = await trainRecipe(loaded, {
    output: join(options.out, 'train'),
    ...(options.resume === true ? { resume: true } : { overwrite: true }),
    ...(options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps }),
    log,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const { model, tokenizer } = trained;
  const trainMs = performance.now() - started;
  try {
    if (!(model instanceof PeftModel))
      throw new InvalidArgumentError({
        argument: 'adapter',
        message: `${loaded.file} trains without an adapter (\`adapter: none\`); the base-vs-adapter comparison needs one.`,
      });
    const baseName = options.baseName ?? 'base';
    const adapterName = options.adapterName ?? 'lora';
    let validation: Record<string, number | undefined> | undefined;
    if (options.validationLoss === true) {
      // The metric that moves first: the validation loss of the base (adapter disabled) and of the adapter.
      validation = {
        [baseName]: await model.disableAdapter(() => validationLoss(recipe, tokenizer, model)),
        [adapterName]: await validationLoss(recipe, tokenizer, model),
      };
      log(`${label} validation loss: base ${validation[baseName]?.toFixed(4)}, adapter ${validation[adapterName]?.toFixed(4)}`);
    }
    const chatTemplate = await recipeChatTemplate(recipe);
    const context: CompareContext = { loaded, evaluation, model, tokenizer, chatTemplate, render: chatRenderer(tokenizer, chatTemplate) };
    const maxContext = Math.min(recipe.data.maxLength, model.config.maxPositionEmbeddings);
    const fits = (ex: TestExample): boolean =>
      options.dropLongPrompts !== true || tokenizer.encode(ex.prompt ?? '').length + evaluation.maxNewTokens <= maxContext;

    const source = options.testRows;
    const rows =
      typeof source === 'function'
        ? (await source(context)).slice(0, evaluation.limit)
        : (await readDataset(evaluation.test, { schema: source.schema }).toArray())
            .slice(0, evaluation.limit)
            .map((row) => source.toExample(row, context));
    if (rows.length === 0)
      throw new InvalidArgumentError({
        argument: 'evaluation.test',
        message: `${evaluation.test} has no test rows; generate more data or raise \`evaluation.limit\`.`,
      });
    const all = toTestSet(promptRowsFromChats(rows as Record<string, unknown>[], context.render), evaluation.test);
    const examples = all.filter(fits);
    const skippedLongPrompts = all.length - examples.length;
    if (skippedLongPrompts > 0)
      log(
        `${label} ${skippedLongPrompts} of ${all.length} test prompts leave no room for ${evaluation.maxNewTokens} new tokens in ${maxContext}; skipped`,
      );

    const variants = options.variants?.(context) ?? [
      { name: baseName, wrap: (fn) => model.disableAdapter(fn) },
      { name: adapterName, activate: () => model.setAdapter(model.activeAdapter) },
    ];
    const settings = {
      model,
      tokenizer,
      variants: await variants,
      batchSize: evaluation.batchSize,
      maxNewTokens: evaluation.maxNewTokens,
      temperature: evaluation.temperature,
      ...(recipe.data.addBos === undefined ? {} : { addBos: recipe.data.addBos }),
      ...(options.meta === null ? {} : { meta: options.meta ?? { recipe: loaded.file, model: recipe.model, adapter: trained.output } }),
    };
    const taskMetrics = options.evaluate?.taskMetrics;
    log(`${label} evaluating ${settings.variants.map((v) => v.name).join(', ')} on ${examples.length} test examples`);
    // A 4-bit base is dequantized once for the whole generation, not at every forward pass.
    const { result, extra } = await withDequantizedWeights(model, async () => {
      const result = await evaluateVariants({
        ...options.evaluate,
        ...settings,
        examples,
        outDir: options.out,
        metrics: options.metrics,
        onProgress: (variant, p) => log(evalProgressText(variant, p, label)),
        ...(taskMetrics === undefined && validation === undefined
          ? {}
          : {
              taskMetrics: async (records, run) => {
                const own = (await taskMetrics?.(records, run)) ?? {};
                const loss = validation?.[run];
                return loss === undefined ? own : { ...own, raw: { ...own.raw, validation_loss: loss } };
              },
            }),
      });
      const extra: EvalResult[] = [];
      for (const set of options.extraSets ?? [])
        extra.push(
          await evaluateVariants({
            ...settings,
            examples: toTestSet(
              promptRowsFromChats((await set.examples(context)) as Record<string, unknown>[], context.render),
              set.outDir,
            ).filter(fits),
            outDir: set.outDir,
            metrics: [],
          }),
        );
      return { result, extra };
    });
    const losses = trained.result.losses;
    const evalLoss = trained.result.lastEval?.eval_loss;
    const train = {
      firstLoss: losses[0] ?? Number.NaN,
      lastLoss: losses.at(-1) ?? Number.NaN,
      ...(evalLoss === undefined ? {} : { evalLoss }),
      steps: trained.result.step,
    };
    return {
      ...result,
      trained: { result: trained.result, output: trained.output, data: trained.data },
      train,
      trainMs,
      evalMs: performance.now() - started - trainMs,
      examples,
      skippedLongPrompts,
      ...(validation === undefined ? {} : { validation }),
      extra,
    };
  } finally {
    model.dispose();
  }
}

/**
 * The `## Training` section appended to a comparison summary: steps, first → last train loss,
 * validation loss, the pipeline's wall time and the loss plot.
 */
export function trainingSection(train: TrainingSummary, wallMs: number, plot = 'train/loss.svg'): string {
  const loss = `train loss ${train.firstLoss.toFixed(4)} → ${train.lastLoss.toFixed(4)}`;
  const validation = train.evalLoss === undefined ? '' : `; validation loss ${train.evalLoss.toFixed(4)}`;
  return `\n## Training\n\n${train.steps} steps; ${loss}${validation}; pipeline wall time ${(wallMs / 1000).toFixed(1)} s.\n\n![loss](${plot})\n`;
}

/**
 * The preset called `name` (default `fallback`), or an `InvalidArgumentError` listing the names
 * there are.
 */
export function choosePreset<P>(presets: Readonly<Record<string, P>>, name: string | undefined, fallback: string): P {
  const chosen = name ?? fallback;
  const preset = Object.hasOwn(presets, chosen) ? presets[chosen] : undefined;
  if (preset === undefined)
    throw new InvalidArgumentError({ argument: 'preset', message: `unknown preset "${chosen}"; use ${Object.keys(presets).join(', ')}.` });
  return preset;
}

/** The report files of a comparison in `out`, as the example pipelines return them. */
export function reportFiles(
  out: string,
  report: ComparisonFiles,
  runs: readonly RunMetrics[],
  trainOutput: string,
): ComparisonFiles & { metrics: string[]; predictions: string[]; lossPlot: string } {
  return {
    summary: report.summary,
    table: report.table,
    plots: report.plots,
    metrics: runs.map((r) => join(out, REPORT_FILES.metrics(r.run))),
    predictions: runs.map((r) => join(out, r.predictionsFile)),
    lossPlot: join(trainOutput, 'loss.svg'),
  };
}

/** Options of {@link compareAdapter} (its second argument). */
export type CompareAdapterOptions<Row = unknown> = Parameters<typeof compareAdapter<Row>>[1];
