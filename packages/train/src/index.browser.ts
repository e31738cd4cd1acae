/**
 * Browser entry of `@lora/train` (the `browser` export condition): everything of the Node entry
 * except what reads or writes files by path: `sft` (datasets and adapters by path), the JSONL
 * logger and the SVG curve writer (recipes live in `@lora/recipe`, Node only). `train` runs in browsers without `outputDir` (checkpoints
 * are folders, so `outputDir` and `resume` need Node); save the adapter with
 * `PeftModel.adapterFiles()` from `@lora/peft`.
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
export { lineChartSvg, type Series, type ChartOptions } from './reporting/plot.js';
