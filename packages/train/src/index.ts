/**
 * Supervised fine-tuning for `@lora/models` causal LMs: LoRA / DoRA adapters (with `@lora/peft`)
 * or small full fine-tunes. Causal-LM loss on trained tokens, AdamW / Adam / SGD and an 8-bit
 * blockwise AdamW, transformers' LR schedules, gradient accumulation and clipping, evaluation and
 * early stopping, atomic checkpoints with bit-exact resume, SIGINT/SIGTERM handling, gradient
 * checkpointing, progress, JSONL logs and SVG curves.
 *
 * @example
 * ```ts
 * import { loadModel } from '@lora/models';
 * import { getPeftModel, loraConfig } from '@lora/peft';
 * import { train, peftWeightsIO, progressReporter, jsonlLogger, curvesWriter } from '@lora/train';
 * const { model } = await loadModel(baseDir);
 * const peft = getPeftModel(model, loraConfig({ r: 8, loraAlpha: 16, targetModules: 'all-linear' }));
 * await train({
 *   model: peft,
 *   data: batches, // collated by `@lora/data`: { inputIds, labels (-100 masked), attentionMask, shape }
 *   args: { maxSteps: 200, learningRate: 2e-4, lrScheduler: 'cosine', warmup: 0.03 },
 *   outputDir: 'out', resume: 'auto', weightsIO: peftWeightsIO(peft),
 *   callbacks: [progressReporter(), jsonlLogger('out/log.jsonl'), curvesWriter('out')],
 * });
 * ```
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
export { chunkedCausalLmLossSum, modelLossSum, type ModelLossOptions } from './chunked-loss.js';
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
