import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FileFormatError, InvalidArgumentError, Rng, readRegularTextFile, resolveAsset } from '@lora/core';
import {
  type Batch,
  type Example,
  type TokenizedExample,
  type Tokenizer,
  STORIES_CHAT_TEMPLATE,
  collate,
  collatePacked,
  exampleEncoder,
  exampleSchema,
  formatReadReport,
  loadTokenizer,
  packSequences,
  readDataset,
  truncateExamples,
} from '@lora/data';
import { type CausalLM, type LoadedModel, type MemoryWorkload, assertFitsBackend, loadModel, selectBackend } from '@lora/models';
import { type PeftModel, getPeftModel, loraConfig } from '@lora/peft';
import { quantizeModel } from '@lora/quant';
import type { TrainCallbacks, TrainResult } from '../callbacks.js';
import { peftWeightsIO } from '../checkpoints/peft-weights-io.js';
import { acquireRunLock, claimRunFolder } from '../checkpoints/run-folder.js';
import { makeLinearsTrainable } from '../parameters.js';
import { curvesWriter } from '../reporting/curves.js';
import { jsonlLogger } from '../reporting/jsonl-log.js';
import { progressReporter } from '../reporting/progress.js';
import { train } from '../train.js';
import { parseTrainingArgs } from '../training-args.js';
import type { z } from 'zod';
import type { LoadedRecipe, Recipe } from './recipe.js';

/** Options of {@link trainRecipe} that override or complete the recipe (the CLI flags). */
export interface TrainRecipeOptions {
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
}

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
  data: DataReport;
}

/** Counts of the data pipeline. */
export interface DataReport {
  train: SplitReport;
  validation?: SplitReport;
}

/** Counts of one split. */
export interface SplitReport {
  file: string;
  read: number;
  kept: number;
  skipped: number;
  /** Records whose bytes were not valid UTF-8 (read with U+FFFD replacements). */
  invalidUtf8: number;
  truncated: number;
  withoutTrainedTokens: number;
  tokens: number;
  trainedTokens: number;
  batches: number;
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

/** The chat template text a recipe asks for (`stories`, a file, or the tokenizer's own). */
export async function recipeChatTemplate(recipe: Recipe): Promise<string | undefined> {
  const t = recipe.data.chatTemplate;
  if (t === undefined) return undefined;
  if (t === 'stories') return STORIES_CHAT_TEMPLATE;
  return readRegularTextFile(t, 'chat template (recipe data.chatTemplate)');
}

/**
 * Loads the recipe's model (backend chosen first) and tokenizer. Before any weight is read, the
 * memory the work needs is estimated from the config (`assertFitsBackend`): on wasm, a model and
 * batch over its 4 GiB heap fail here with the estimate and what to install, never `Aborted()`.
 *
 * @param kind - `training` (default: activations of `data.batchSize` × `data.maxLength` kept for the
 *   backward pass) or `inference` (evaluation batches of `evaluation.batchSize`).
 */
export async function loadRecipeModel(
  recipe: Recipe,
  env: Readonly<Record<string, string | undefined>>,
  log: (line: string) => void,
  kind: MemoryWorkload['kind'] = 'training',
): Promise<{ loaded: LoadedModel; tokenizer: Tokenizer; modelDir: string }> {
  const backend = await selectBackend({ ...(recipe.backend === undefined ? {} : { backend: recipe.backend }), env, log });
  const path = await resolveAsset(recipe.model, { kind: 'model', env });
  const batchSize = kind === 'training' ? recipe.data.batchSize : (recipe.evaluation?.batchSize ?? recipe.data.batchSize);
  const loaded = await loadModel(path, {
    beforeWeights: (config) =>
      void assertFitsBackend(backend.tfjsBackend, config, { kind, batchSize, sequenceLength: recipe.data.maxLength }, recipe.model),
  });
  const modelDir = loaded.format === 'llama2c' ? dirname(loaded.path) : loaded.path;
  const tokenizer = await loadTokenizer(recipe.tokenizer ?? modelDir, { vocabSize: loaded.config.vocabSize });
  return { loaded, tokenizer, modelDir };
}

async function encodeSplit(
  file: string,
  recipe: Recipe,
  encode: (e: Example) => TokenizedExample,
  limit: number | undefined,
  log: (line: string) => void,
  vocabSize: number,
): Promise<{ examples: TokenizedExample[]; report: Omit<SplitReport, 'batches'> }> {
  const format = recipe.data.format;
  const schema = format === 'auto' ? exampleSchema('auto') : (exampleSchema(format) as z.ZodType<Example>);
  const reader = readDataset(file, { schema, mode: recipe.data.mode });
  const encoded: TokenizedExample[] = [];
  for await (const { line, value } of reader.entries()) {
    if (limit !== undefined && encoded.length >= limit) break;
    let example: TokenizedExample;
    try {
      example = encode(value as Example);
    } catch (error) {
      throw new FileFormatError({ file, line, message: `cannot encode this record: ${(error as Error).message}`, cause: error });
    }
    // An id past the embedding table is not an error in tfjs' gather: it reads zeros and trains on garbage.
    const bad = example.inputIds.find((id) => id < 0 || id >= vocabSize);
    if (bad !== undefined) {
      throw new FileFormatError({
        file,
        line,
        field: 'inputIds',
        message: `the tokenizer produced token id ${bad}, outside the model's vocabulary (vocab_size ${vocabSize}): the tokenizer does not belong to this model (check \`tokenizer\` in the recipe).`,
      });
    }
    encoded.push(example);
  }
  if (reader.report.read === 0) {
    throw new FileFormatError({ file, message: 'the dataset is empty: it holds no record.' });
  }
  if (reader.report.kept === 0) {
    throw new FileFormatError({
      file,
      message: `no valid record: all ${reader.report.read} were skipped.\n${formatReadReport(reader.report)}`,
    });
  }
  if (reader.report.skipped.length > 0 || reader.report.invalidUtf8 > 0) log(formatReadReport(reader.report));
  const { examples, stats } = truncateExamples(encoded, { maxLength: recipe.data.maxLength, side: recipe.data.truncation });
  let tokens = 0;
  let trainedTokens = 0;
  for (const ex of examples) {
    tokens += ex.inputIds.length;
    for (const m of ex.labelsMask) trainedTokens += m === 0 ? 0 : 1;
  }
  return {
    examples: examples.filter((ex) => ex.labelsMask.some((m) => m !== 0)),
    report: {
      file,
      read: reader.report.read,
      kept: reader.report.kept,
      skipped: reader.report.skipped.length,
      invalidUtf8: reader.report.invalidUtf8,
      truncated: stats.truncated,
      withoutTrainedTokens: stats.withoutTrainedTokens,
      tokens,
      trainedTokens,
    },
  };
}

/** Groups examples into collated micro-batches (packed rows or right-padded examples). */
export function batchExamples(examples: readonly TokenizedExample[], recipe: Recipe, padId: number): Batch[] {
  const size = recipe.data.batchSize;
  const batches: Batch[] = [];
  if (recipe.data.packing) {
    const { sequences } = packSequences(examples, { maxLength: recipe.data.maxLength });
    for (let i = 0; i < sequences.length; i += size) batches.push(collatePacked(sequences.slice(i, i + size), { padId }));
  } else {
    for (let i = 0; i < examples.length; i += size) batches.push(collate(examples.slice(i, i + size), { padId, side: 'right' }));
  }
  return batches;
}

/**
 * Runs a recipe end to end: backend, model and tokenizer, optional 4-bit base, LoRA (or full
 * fine-tuning), data (read, validated, encoded with trained-token masks, truncated, shuffled once
 * with the seed, batched), training with checkpoints / resume / progress / JSONL log / plots, and
 * at the end the adapter in PEFT format (`adapter_config.json`, `adapter_model.safetensors`),
 * `trainer_state.json`, `data_report.json` and `recipe.json` in the output folder. The folder is
 * locked while it trains, and one that already holds a run is refused unless `resume` or
 * `overwrite` (see {@link TrainRecipeOptions}).
 *
 * @example
 * ```ts
 * const { result } = await trainRecipe(await loadRecipe('recipes/smoke.yaml'), { maxSteps: 20 });
 * ```
 */
export async function trainRecipe(loadedRecipe: LoadedRecipe, options: TrainRecipeOptions = {}): Promise<TrainRecipeResult> {
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
  const { loaded, tokenizer } = await loadRecipeModel(recipe, env, log);
  let model: CausalLM = loaded.model;
  let peft: PeftModel | undefined;
  try {
    if (recipe.quantization !== undefined) {
      const q = recipe.quantization;
      const paths = await quantizeModel(model, { type: q.type, blocksize: q.blocksize, doubleQuant: q.doubleQuant, skip: q.skip });
      log(
        `[lora] quantized ${paths.length} linear modules to ${q.type}${q.doubleQuant ? ' + double quant' : ''} (blocksize ${q.blocksize})`,
      );
    }
    if (recipe.adapter === 'none') {
      const n = makeLinearsTrainable(model);
      log(`[lora] full fine-tuning of ${n} linear modules`);
    } else {
      peft = getPeftModel(model, loraConfig({ ...recipe.adapter, baseModelNameOrPath: recipe.model } as Parameters<typeof loraConfig>[0]));
      model = peft;
    }

    const chatTemplate = await recipeChatTemplate(recipe);
    const encode = exampleEncoder(tokenizer, {
      mask: recipe.data.mask,
      ...(chatTemplate === undefined ? {} : { chatTemplate }),
      ...(recipe.data.addBos === undefined ? {} : { addBos: recipe.data.addBos }),
    });
    const padId = tokenizer.padTokenId ?? tokenizer.eosTokenIds[0] ?? 0;
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
