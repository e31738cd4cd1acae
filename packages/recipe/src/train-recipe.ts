import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, Rng } from '@lora/core';
import type { Batch, Tokenizer } from '@lora/data';
import type { CausalLM } from '@lora/models';
import {
  type TrainCallbacks,
  type TrainResult,
  curvesWriter,
  jsonlLogger,
  parseTrainingArgs,
  peftWeightsIO,
  progressReporter,
  train,
} from '@lora/train';
import { acquireRunLock, claimRunFolder } from '@lora/train/internal';
import { prepareModel } from './prepare.js';
import type { LoadedRecipe, Recipe } from './recipe.js';
import { type SplitReport, batchExamples, encodeSplit, padTokenId, recipeEncoder } from './split.js';

/** What a recipe run produced. */
export interface TrainRecipeResult {
  result: TrainResult;
  /** The output folder. */
  output: string;
  /** The model after training (the PEFT model for adapters); the caller disposes it. */
  model: CausalLM;
  /** The tokenizer the data was encoded with. */
  tokenizer: Tokenizer;
  /** Counts of the data pipeline, also written to `data_report.json`. */
  data: { train: SplitReport; validation?: SplitReport };
}

/** Files and folders a recipe run writes into its output folder: their presence means a run is there. */
const RECIPE_RUN_FILES = new Set([
  'adapter_config.json',
  'adapter_model.safetensors',
  'trainer_state.json',
  'train_log.jsonl',
  'loss.svg',
  'lr.svg',
  'data_report.json',
  'recipe.json',
  'checkpoints',
]);

/**
 * Runs a recipe end to end: backend, model and tokenizer, optional 4-bit base, LoRA (or full
 * fine-tuning), data (read, validated, encoded with trained-token masks, truncated, shuffled once
 * with the seed, batched), training with checkpoints / resume / progress / JSONL log / plots, and
 * at the end the adapter in PEFT format (`adapter_config.json`, `adapter_model.safetensors`),
 * `trainer_state.json`, `data_report.json` and `recipe.json` in the output folder. The folder is
 * locked while it trains, and one that already holds a run is refused unless `resume` or
 * `overwrite` (see the options below).
 *
 * @example
 * ```ts
 * const { result } = await trainRecipe(await loadRecipe('recipes/smoke.yaml'), { maxSteps: 20 });
 * ```
 */
export async function trainRecipe(
  loadedRecipe: LoadedRecipe,
  options: {
    /** Output folder (overrides `recipe.output`). */
    output?: string;
    /** Resume from the output folder's latest checkpoint. */
    resume?: boolean;
    /**
     * Without `resume`, the output folder must hold no run (adapter, trainer state, log,
     * checkpoints…; else a `RunFolderError`); `true` deletes those files (and `eval/`) first.
     */
    overwrite?: boolean;
    /** Stop after this many optimizer steps (overrides `training.maxSteps`). */
    maxSteps?: number;
    /** Where progress lines and notes go (default stderr). */
    log?: (line: string) => void;
    /** Extra callbacks (e.g. a test's). */
    callbacks?: TrainCallbacks[];
    /** Environment for the asset resolver and backend selection. */
    env?: Readonly<Record<string, string | undefined>>;
  } = {},
): Promise<TrainRecipeResult> {
  const { recipe } = loadedRecipe;
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const output = options.output ?? recipe.output ?? join('runs', recipe.name);
  const args = parseTrainingArgs({ ...recipe.training, ...(options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps }) });
  await mkdir(output, { recursive: true });
  const release = await acquireRunLock(output);
  try {
    // `eval/` holds predictions of the old adapter that `lora eval` would otherwise resume.
    if (options.resume !== true)
      await claimRunFolder(output, {
        isRunFile: (name) => RECIPE_RUN_FILES.has(name),
        overwrite: options.overwrite === true,
        alsoDelete: ['eval'],
      });
    return await trainRecipeLocked(recipe, options, { env, log, output, args });
  } finally {
    await release();
  }
}

async function trainRecipeLocked(
  recipe: Recipe,
  options: TrainRecipeOptions,
  {
    env,
    log,
    output,
    args,
  }: {
    env: Readonly<Record<string, string | undefined>>;
    log: (line: string) => void;
    output: string;
    args: ReturnType<typeof parseTrainingArgs>;
  },
): Promise<TrainRecipeResult> {
  const { loaded, model, peft, tokenizer } = await prepareModel(recipe, { env, log, kind: 'training', adapter: 'recipe' });
  try {
    const encode = await recipeEncoder(recipe, tokenizer);
    const padId = padTokenId(tokenizer);
    const trainSplit = await encodeSplit(recipe.data.train, recipe, encode, recipe.data.limit, log, loaded.config.vocabSize);
    new Rng(args.seed).shuffle(trainSplit.examples);
    const trainBatches = batchExamples(trainSplit.examples, recipe, padId);
    const data: DataReport = { train: { ...trainSplit.report, batches: trainBatches.length } };
    let evalBatches: Batch[] | undefined;
    if (recipe.data.validation !== undefined) {
      const validation = await encodeSplit(recipe.data.validation, recipe, encode, undefined, log, loaded.config.vocabSize);
      evalBatches = batchExamples(validation.examples, recipe, padId);
      data.validation = { ...validation.report, batches: evalBatches.length };
    }
    if (trainBatches.length === 0) {
      throw new InvalidArgumentError({ argument: 'data.train', message: `${recipe.data.train} gave no example with trained tokens.` });
    }
    await writeFile(join(output, 'data_report.json'), `${JSON.stringify(data, null, 2)}\n`);
    await writeFile(join(output, 'recipe.json'), `${JSON.stringify(recipe, null, 2)}\n`);
    log(
      `[lora] data: ${data.train.kept} train examples (${data.train.trainedTokens} trained tokens, ${data.train.truncated} truncated, ${data.train.skipped} skipped) → ${trainBatches.length} batches` +
        (data.validation === undefined ? '' : `; ${data.validation.kept} validation examples`),
    );

    const result = await train({
      model,
      data: trainBatches,
      ...(evalBatches === undefined ? {} : { evalData: evalBatches }),
      args,
      outputDir: join(output, 'checkpoints'),
      resume: options.resume === true ? 'auto' : false,
      ...(peft === undefined ? {} : { weightsIO: peftWeightsIO(peft) }),
      callbacks: [progressReporter(), jsonlLogger(join(output, 'train_log.jsonl')), curvesWriter(output), ...(options.callbacks ?? [])],
    });

    if (peft !== undefined) await peft.saveAdapter(output);
    if (result.lastCheckpoint !== undefined) {
      await copyFile(join(result.lastCheckpoint, 'trainer_state.json'), join(output, 'trainer_state.json')).catch(() => undefined);
    }
    log(
      `[lora] ${result.stopReason} after ${result.step} steps; loss ${result.losses[0]?.toFixed(4)} → ${result.losses.at(-1)?.toFixed(4)}; wrote ${output}`,
    );
    return { result, output, model, tokenizer, data };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** Counts of the data pipeline. */
type DataReport = TrainRecipeResult['data'];

/** Options of {@link trainRecipe} that override or complete the recipe (the CLI flags). The public signature spells it out. */
export type TrainRecipeOptions = NonNullable<Parameters<typeof trainRecipe>[1]>;
