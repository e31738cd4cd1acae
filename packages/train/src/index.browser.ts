/**
 * Browser entry of `@lora/train` (the `browser` export condition): everything of the Node entry
 * except what reads or writes files by path: `sft` (datasets and adapters by path), the JSONL
 * logger and the SVG curve writer (recipes live in `@lora/recipe`, Node only). `train` runs in browsers without `outputDir` (checkpoints
 * are folders, so `outputDir` and `resume` need Node); save the adapter with
 * `PeftModel.adapterFiles()` from `@lora/peft`.
 *
 * @packageDocumentation
 */
export { train, evaluateLoss, type BatchSource } from './train.js';
export { NonFiniteError } from './errors/non-finite-error.js';
export { RunFolderError } from './errors/run-folder-error.js';
export { CheckpointWriteError } from './errors/checkpoint-write-error.js';
export { TrainingArgsSchema, parseTrainingArgs, type TrainingArgs, type TrainingArgsInput } from './training-args.js';
export type { TrainBatch } from './batch.js';
export type { Optimizer, OptimizerState, NamedGradients } from './optimizers/index.js';
export { namedParameters } from './parameters.js';
export {
  composeCallbacks,
  type TrainCallbacks,
  type StepReport,
  type EvalReport,
  type CheckpointReport,
  type TrainResult,
} from './callbacks.js';
export type { WeightsIO } from './checkpoints/checkpoint-io.js';
export { peftWeightsIO } from './checkpoints/peft-weights-io.js';
export { progressReporter } from './reporting/progress.js';
