/**
 * Internals of `@lora/train` (browser build) that other `@lora` packages, examples, benchmarks and tools build on.
 * Not part of the public API and not covered by semver: names here may change or go in any release.
 * Users import from `@lora/train`.
 *
 * @packageDocumentation
 */
export { causalLmLoss } from './loss.js';
export { makeLinearsTrainable } from './parameters.js';
export { listCheckpoints, checkpointName } from './checkpoints/checkpoint-io.js';
export { formatDuration } from './reporting/progress.js';
export { lineChartSvg } from './reporting/plot.js';
export { AdamW, AdamW8bit } from './optimizers/index.js';
export { modelLossSum } from './chunked-loss.js';
export { clipGradNormOnDevice } from './clip-grad-norm.js';
