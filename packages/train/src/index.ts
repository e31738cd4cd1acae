/**
 * Supervised fine-tuning for `@lora/models` causal LMs (`sft()` for the common case, `train()` underneath): LoRA / DoRA adapters (with `@lora/peft`)
 * or small full fine-tunes. Causal-LM loss on trained tokens, AdamW / Adam / SGD and an 8-bit
 * blockwise AdamW, transformers' LR schedules, gradient accumulation and clipping, evaluation and
 * early stopping, atomic checkpoints with bit-exact resume, SIGINT/SIGTERM handling, gradient
 * checkpointing, progress, JSONL logs and SVG curves.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from '@lora/data';
 * import { loadModel } from '@lora/models';
 * import { sft } from '@lora/train';
 * const { model } = await loadModel(baseDir);
 * const { model: peft, result } = await sft({
 *   model,
 *   tokenizer: await loadTokenizer(baseDir),
 *   dataset: 'train.jsonl', // `messages`, `prompt` + `completion` or `text` records
 *   lora: { r: 8, lora_alpha: 16, target_modules: 'all-linear' },
 *   args: { numTrainEpochs: 1, learningRate: 2e-4, outputDir: 'out' },
 * });
 * ```
 * `train()` is the loop underneath, for batches built by hand with `@lora/data`'s `collate`.
 *
 * @packageDocumentation
 */
export { train, evaluateLoss, type TrainOptions, type BatchSource } from './train.js';
export { NonFiniteError } from './errors/non-finite-error.js';
export { RunFolderError } from './errors/run-folder-error.js';
export { CheckpointWriteError } from './errors/checkpoint-write-error.js';
export { TrainingArgsSchema, parseTrainingArgs, type TrainingArgs, type TrainingArgsInput } from './training-args.js';
export { IGNORE_INDEX, type TrainBatch } from './batch.js';
export { causalLmLoss, causalLmLossSum, countTrainedTokens, type TokenLossSum } from './loss.js';
export {
  AdamW,
  Adam,
  SGD,
  AdamW8bit,
  dynamicMap,
  quantizeBlockwise,
  dequantizeBlockwise,
  decayMatricesOnly,
  type AdamOptions,
  type SgdOptions,
  type AdamW8bitOptions,
  type Optimizer,
  type OptimizerState,
  type NamedGradients,
  type WeightDecayFilter,
} from './optimizers/index.js';
export { makeSchedule, warmupSteps, type Schedule, type ScheduleName, type ScheduleOptions } from './schedules.js';
export {
  clipGradNorm,
  clipGradNormOnDevice,
  globalNorm,
  globalNormTensor,
  allFinite,
  type ClipResult,
  type DeviceClipResult,
} from './clip-grad-norm.js';
export { enableGradientCheckpointing } from './gradient-checkpointing.js';
export { namedParameters, makeLinearsTrainable } from './parameters.js';
export {
  composeCallbacks,
  type TrainCallbacks,
  type StepReport,
  type EvalReport,
  type CheckpointReport,
  type TrainResult,
} from './callbacks.js';
export {
  writeCheckpoint,
  readCheckpoint,
  readTrainerState,
  findLatestCheckpoint,
  listCheckpoints,
  pruneCheckpoints,
  checkpointName,
  safetensorsWeightsIO,
  LATEST_FILE,
  type WeightsIO,
  type CheckpointContent,
} from './checkpoints/checkpoint-io.js';
export { peftWeightsIO } from './checkpoints/peft-weights-io.js';
export {
  CHECKPOINT_FORMAT_VERSION,
  CHECKPOINT_FILES,
  TrainerStateSchema,
  type TrainerState,
  type Cursor,
} from './checkpoints/trainer-state.js';
export { progressReporter, formatStep, formatDuration, type ProgressOptions } from './reporting/progress.js';
export { jsonlLogger } from './reporting/jsonl-log.js';
export { lineChartSvg, type Series, type ChartOptions } from './reporting/plot.js';
export { writeCurves, curvesWriter, type CurveFiles } from './reporting/curves.js';
export {
  loadRecipe,
  RecipeSchema,
  DataSectionSchema,
  QuantizationSectionSchema,
  EvaluationSectionSchema,
  type Recipe,
  type LoadedRecipe,
} from './recipe/recipe.js';
export {
  trainRecipe,
  loadRecipeModel,
  recipeChatTemplate,
  batchExamples,
  type TrainRecipeOptions,
  type TrainRecipeResult,
  type DataReport,
  type SplitReport,
} from './recipe/run-recipe.js';
export {
  sft,
  type SftOptions,
  type SftArgs,
  type SftLoraOptions,
  type SftDataset,
  type SftResult,
  type SftSplitReport,
} from './sft.js';
