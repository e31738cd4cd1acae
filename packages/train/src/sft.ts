import { FileFormatError, InvalidArgumentError, Rng, type Source } from '@lora/core';
import {
  type Batch,
  type Example,
  type TokenizedExample,
  type Tokenizer,
  collate,
  exampleEncoder,
  formatReadReport,
  readDataset,
  toExample,
} from '@lora/data';
import { collatePacked, packSequences, truncateExamples, exampleSchema } from '@lora/data/internal';
import type { CausalLM } from '@lora/models';
import { type LoraConfigOptions, PeftModel, getPeftModel, loraConfig } from '@lora/peft';
import { join } from 'node:path';
import type { TrainCallbacks, TrainResult } from './callbacks.js';
import { peftWeightsIO } from './checkpoints/peft-weights-io.js';
import { RunFolderError } from './errors/run-folder-error.js';
import { curvesWriter } from './reporting/curves.js';
import { jsonlLogger } from './reporting/jsonl-log.js';
import { progressReporter } from './reporting/progress.js';
import { train } from './train.js';
import type { TrainingArgsInput } from './training-args.js';

/** What {@link sft} returns. */
export interface SftResult {
  /** The trained model with its adapter (the caller disposes it). */
  model: PeftModel;
  /** Losses, steps and stop reason of `train`. */
  result: TrainResult;
  /** Where the adapter was saved (`args.outputDir`), if anywhere. */
  outputDir?: string;
  /** Data pipeline counts of each split. */
  data: {
    /** Counts of the training split. */
    train: {
      /** Records read. */
      examples: number;
      /** Examples kept (those with at least one trained token). */
      kept: number;
      /** Examples cut to `maxLength`. */
      truncated: number;
      /** Tokens whose loss is trained. */
      trainedTokens: number;
      /** Micro-batches. */
      batches: number;
    };
    /** Counts of the eval split, when there is one. */
    eval?: SftResult['data']['train'];
  };
}

const SFT_KEYS = new Set<string>([
  'outputDir',
  'numTrainEpochs',
  'perDeviceTrainBatchSize',
  'maxLength',
  'packing',
  'assistantOnlyLoss',
  'completionOnlyLoss',
  'addEos',
  'chatTemplate',
  'progress',
  'overwriteOutputDir',
  'resumeFromCheckpoint',
]);

/**
 * Supervised fine-tuning with LoRA in one call, in the spirit of TRL's `SFTTrainer`: reads and
 * validates the records, renders conversations with the chat template, masks the untrained
 * tokens (assistant turns / completion only), appends EOS, truncates to `maxLength`, shuffles
 * with the seed, pads (or packs) into micro-batches, wraps the model with LoRA, runs {@link train}
 * and saves the adapter in PEFT format (`adapter_config.json`, `adapter_model.safetensors`:
 * `loadPeftModel` or Python's `PeftModel.from_pretrained` read it).
 *
 * Same defaults as TRL 1.16's `SFTConfig`: 3 epochs, batch size 8, gradient accumulation 1,
 * `maxLength` 1024 truncating the end (`keep_start`), no packing, completion-only loss for
 * prompt/completion records, EOS appended, linear schedule without warmup, `maxGradNorm` 1,
 * `weightDecay` 0, seed 42. Differences:
 * - `learningRate` 2e-4 (TrainingArgs' LoRA default; TRL 2e-5, tuned for full fine-tuning);
 * - `assistantOnlyLoss` true (TRL false: it trains system and user turns too); pass false for TRL's behaviour;
 * - `gradientCheckpointing` false (TRL true); `loggingSteps` 1 (TRL 10);
 * - `maxSteps` wins over `numTrainEpochs` as in transformers; an epoch is
 *   ⌈batches / `gradientAccumulationSteps`⌉ optimizer steps;
 * - the examples are shuffled once with `seed` before batching, then the batches each epoch (the
 *   Trainer's sampler shuffles examples each epoch);
 * - no `output_dir` default (`trainer_output` in transformers): without `outputDir` nothing is written;
 * - `packing` is best-fit decreasing with per-document positions and attention, like TRL's `bfd`
 *   strategy (TRL's `padding_free` is not offered);
 * - no `lora` (and a plain model) means PEFT's `LoraConfig()` defaults, not a full fine-tune.
 *
 * @throws InvalidArgumentError for a bad option; FileFormatError naming the file (or `dataset[i]`)
 *   and field of a bad record.
 *
 * @example
 * ```ts
 * const { model: peft, result } = await sft({
 *   model, tokenizer, dataset: 'train.jsonl',
 *   lora: { r: 16, lora_alpha: 32, target_modules: 'all-linear' },
 *   args: { numTrainEpochs: 1, learningRate: 2e-4, outputDir: 'out' },
 * });
 * ```
 */
export async function sft(options: {
  /** A loaded model (`loadModel` of `@lora/models`), wrapped with `lora`; or a `PeftModel`, trained as is. */
  model: CausalLM | PeftModel;
  /** The model's tokenizer (`loadTokenizer` of `@lora/data`). */
  tokenizer: Tokenizer;
  /**
   * Training records: `messages` (conversational), `prompt` + `completion`, or `text` (format
   * detected per record); in memory, or a file `@lora/data` reads (JSONL, JSON, CSV, TSV, Parquet).
   */
  dataset: string | readonly unknown[];
  /** Records evaluated (`eval_loss`) every `args.evalSteps` and at the end. */
  evalDataset?: string | readonly unknown[];
  /**
   * LoRA settings (PEFT's defaults for what is left out); must be omitted when `model` is a
   * `PeftModel`. The camelCase options of `loraConfig`, or PEFT's own snake_case spellings
   * (`lora_alpha`, `target_modules`, …; one spelling per option).
   */
  lora?: LoraConfigOptions & {
    readonly lora_alpha?: number;
    readonly target_modules?: string | readonly string[] | null;
    readonly lora_dropout?: number;
    readonly use_rslora?: boolean;
    readonly use_dora?: boolean;
    readonly modules_to_save?: readonly string[] | null;
    readonly init_lora_weights?: LoraConfigOptions['initLoraWeights'];
  };
  /**
   * {@link sft}'s arguments: transformers' `TrainingArguments` in camelCase (`TrainingArgsInput`)
   * plus TRL's `SFTConfig` data options. Every field is optional. At run time the snake_case
   * spellings of TRL / transformers are accepted too (`learning_rate`, `num_train_epochs`,
   * `per_device_train_batch_size`, `output_dir`, …, and `warmup_ratio` / `warmup_steps` /
   * `lr_scheduler_type` for `warmup` / `lrScheduler`), so a Python `SFTConfig(...)` can be pasted.
   */
  args?: TrainingArgsInput & {
    /** Where the adapter (PEFT format), checkpoints, `train_log.jsonl` and `loss.svg` go; without it nothing is written. */
    outputDir?: string;
    /** Epochs over the data when `maxSteps` is not given (TRL default 3). */
    numTrainEpochs?: number;
    /** Examples per micro-batch (TRL's `per_device_train_batch_size`; default 8 as in TRL). */
    perDeviceTrainBatchSize?: number;
    /** Longest example in tokens; longer ones are truncated on the right (TRL default 1024). */
    maxLength?: number;
    /** Pack examples into `maxLength` rows with per-document attention (default false, as in TRL). */
    packing?: boolean;
    /** Conversations: train only on assistant turns (default true; TRL's default is false: see {@link sft}). */
    assistantOnlyLoss?: boolean;
    /** Prompt/completion records: train only on the completion (default true, as TRL's `None` does for this format). */
    completionOnlyLoss?: boolean;
    /** Append EOS to prompt/completion and text records (trained; default true). Chat templates end turns themselves. */
    addEos?: boolean;
    /** Chat template text instead of the tokenizer's own (`messages` records). */
    chatTemplate?: string;
    /** Progress bar / lines on stderr (default true). */
    progress?: boolean;
    /** Delete an earlier run's checkpoints in `outputDir` instead of refusing (transformers' `overwrite_output_dir`). */
    overwriteOutputDir?: boolean;
    /** Resume from `outputDir`'s latest checkpoint (`true`) or from this checkpoint folder (transformers' `resume_from_checkpoint`). */
    resumeFromCheckpoint?: boolean | string;
  };
  /** Extra training callbacks. */
  callbacks?: TrainCallbacks[];
}): Promise<SftResult> {
  const args = camelCaseArgs(options.args ?? {});
  const trainingArgs: TrainingArgsInput = Object.fromEntries(Object.entries(args).filter(([key]) => !SFT_KEYS.has(key)));
  const batchSize = args.perDeviceTrainBatchSize ?? 8;
  const maxLength = args.maxLength ?? 1024;
  for (const [name, value] of [
    ['perDeviceTrainBatchSize', batchSize],
    ['maxLength', maxLength],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new InvalidArgumentError({ argument: `args.${name}`, message: `must be a positive integer, got ${value}` });
  }
  if (options.model instanceof PeftModel && options.lora !== undefined) {
    throw new InvalidArgumentError({
      argument: 'lora',
      message: 'the model is already a PeftModel: leave `lora` out (or pass the base model).',
    });
  }
  const encodeOne = exampleEncoder(options.tokenizer, {
    mask: args.assistantOnlyLoss === false ? 'all' : 'assistant',
    ...(args.chatTemplate === undefined ? {} : { chatTemplate: args.chatTemplate }),
    ...(args.addEos === undefined ? {} : { addEos: args.addEos }),
  });
  const encode = (example: Example): TokenizedExample => {
    const encoded = encodeOne(example);
    return example.format === 'prompt-completion' && args.completionOnlyLoss === false
      ? { ...encoded, labelsMask: new Uint8Array(encoded.labelsMask.length).fill(1) }
      : encoded;
  };
  const vocabSize = options.model.config.vocabSize;
  const padId = options.tokenizer.padTokenId;
  const seed = args.seed ?? 42;
  const prepare = async (dataset: SftDataset, name: string) => {
    const encoded = await encodeDataset(dataset, name, encode, vocabSize);
    const { examples, stats } = truncateExamples(encoded, { maxLength, side: 'right' });
    const kept = examples.filter((ex) => ex.labelsMask.some((m) => m !== 0));
    new Rng(seed).shuffle(kept);
    const batches: Batch[] = [];
    if (args.packing === true) {
      const { sequences } = packSequences(kept, { maxLength });
      for (let i = 0; i < sequences.length; i += batchSize) batches.push(collatePacked(sequences.slice(i, i + batchSize), { padId }));
    } else {
      for (let i = 0; i < kept.length; i += batchSize) batches.push(collate(kept.slice(i, i + batchSize), { padId, side: 'right' }));
    }
    let trainedTokens = 0;
    for (const ex of kept) for (const m of ex.labelsMask) trainedTokens += m === 0 ? 0 : 1;
    if (batches.length === 0) throw new InvalidArgumentError({ argument: name, message: 'holds no example with trained tokens.' });
    const report: SftSplitReport = {
      examples: encoded.length,
      kept: kept.length,
      truncated: stats.truncated,
      trainedTokens,
      batches: batches.length,
    };
    return { batches, report };
  };
  const trainSplit = await prepare(options.dataset, 'dataset');
  const evalSplit = options.evalDataset === undefined ? undefined : await prepare(options.evalDataset, 'evalDataset');

  const accumulation = args.gradientAccumulationSteps ?? 1;
  const maxSteps =
    args.maxSteps ?? Math.max(1, Math.ceil((args.numTrainEpochs ?? 3) * Math.ceil(trainSplit.report.batches / accumulation)));
  const peft =
    options.model instanceof PeftModel
      ? options.model
      : getPeftModel(
          options.model,
          loraConfig({
            ...(options.model.config.nameOrPath === undefined ? {} : { baseModelNameOrPath: options.model.config.nameOrPath }),
            ...options.lora,
          } as LoraConfigOptions),
        );
  const out = args.outputDir;
  const callbacks: TrainCallbacks[] = [
    ...(args.progress === false ? [] : [progressReporter()]),
    ...(out === undefined ? [] : [jsonlLogger(join(out, 'train_log.jsonl')), curvesWriter(out)]),
    ...(options.callbacks ?? []),
  ];
  const result = await train({
    model: peft,
    data: trainSplit.batches,
    ...(evalSplit === undefined ? {} : { evalData: evalSplit.batches }),
    args: { ...trainingArgs, maxSteps },
    callbacks,
    ...(out === undefined
      ? { handleSignals: false }
      : {
          outputDir: join(out, 'checkpoints'),
          weightsIO: peftWeightsIO(peft),
          overwrite: args.overwriteOutputDir === true,
          ...(args.resumeFromCheckpoint === undefined || args.resumeFromCheckpoint === false ? {} : { resume: args.resumeFromCheckpoint }),
        }),
  }).catch((error: unknown) => {
    if (!RunFolderError.isInstance(error) || error.reason !== 'has-run') throw error;
    throw new InvalidArgumentError({
      argument: 'args.outputDir',
      message: `${out} already holds an earlier run (${error.files.slice(0, 3).join(', ')} in ${error.dir}): pass \`overwriteOutputDir: true\` to replace it, \`resumeFromCheckpoint: true\` to continue it, or another \`outputDir\`.`,
      cause: error,
    });
  });
  if (out !== undefined) await peft.saveAdapter(out);
  return {
    model: peft,
    result,
    ...(out === undefined ? {} : { outputDir: out }),
    data: { train: trainSplit.report, ...(evalSplit === undefined ? {} : { eval: evalSplit.report }) },
  };
}

/** TRL / transformers names that differ from ours by more than their case. */
const ARG_ALIASES: Readonly<Record<string, string>> = { warmupRatio: 'warmup', warmupSteps: 'warmup', lrSchedulerType: 'lrScheduler' };

/** `args` with snake_case keys (and TRL's few other names) turned into ours; two spellings of one key are refused. */
function camelCaseArgs(args: SftArgs): SftArgs {
  const out: Record<string, unknown> = {};
  const spelledAs = new Map<string, string>();
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined) continue;
    const camel = key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    const name = ARG_ALIASES[camel] ?? camel;
    const other = spelledAs.get(name);
    if (other !== undefined) {
      throw new InvalidArgumentError({ argument: `args.${name}`, message: `given twice, as \`${other}\` and \`${key}\`; keep one.` });
    }
    spelledAs.set(name, key);
    out[name] = value;
  }
  return out as SftArgs;
}

/** Reads (a path) or validates (records) a dataset and encodes each example, naming the record of an error. */
async function encodeDataset(
  dataset: SftDataset,
  name: string,
  encode: (example: Example) => TokenizedExample,
  vocabSize: number,
): Promise<TokenizedExample[]> {
  const encoded: TokenizedExample[] = [];
  const add = (example: Example, source: Source) => {
    let tokens: TokenizedExample;
    try {
      tokens = encode(example);
    } catch (error) {
      throw new FileFormatError({ ...source, message: `cannot encode this record: ${(error as Error).message}`, cause: error });
    }
    // An id past the embedding table is not an error in tfjs' gather: it reads zeros and trains on garbage.
    const bad = tokens.inputIds.find((id) => id < 0 || id >= vocabSize);
    if (bad !== undefined) {
      throw new FileFormatError({
        ...source,
        field: 'inputIds',
        message: `the tokenizer produced token id ${bad}, outside the model's vocabulary (vocab_size ${vocabSize}): the tokenizer does not belong to this model.`,
      });
    }
    encoded.push(tokens);
  };
  if (typeof dataset === 'string') {
    const reader = readDataset(dataset, { schema: exampleSchema('auto') });
    for await (const { line, value } of reader.entries()) add(value, { file: dataset, line });
    if (reader.report.kept === 0)
      throw new FileFormatError({ file: dataset, message: `no valid record.\n${formatReadReport(reader.report)}` });
  } else {
    dataset.forEach((record, i) => {
      const source = { file: `${name}[${i}]` };
      add(toExample(record, 'auto', source), source);
    });
  }
  if (encoded.length === 0) throw new InvalidArgumentError({ argument: name, message: 'is empty.' });
  return encoded;
}

/** Options of {@link sft} (its argument). */
type SftOptions = Parameters<typeof sft>[0];
/** {@link sft}'s arguments (`SftOptions.args`). */
type SftArgs = NonNullable<SftOptions['args']>;
/** A dataset for {@link sft}: records in memory, or a file `@lora/data` reads. */
type SftDataset = SftOptions['dataset'];
/** Counts of one encoded split. */
type SftSplitReport = SftResult['data']['train'];
