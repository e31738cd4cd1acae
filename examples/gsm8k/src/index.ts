/**
 * GSM8K recipe data: loaders, the fixed few-shot pool (seed 42, 8 examples, removed from train),
 * presets simple / medium / strong, few-shot and chat prompt rendering, an AILuminate safety
 * prompt sampler, pass/fail thresholds and the `results/summary.csv` / `config_resolved.json`
 * writers. Answer extraction and scoring (`####` strict and flexible, as lm-evaluation-harness)
 * come from `@lora/eval` (`gsm8kScore`, `gsm8kStrictExtract`, `gsm8kFlexibleExtract`).
 *
 * @packageDocumentation
 */
export {
  loadGsm8k,
  splitGsm8kAnswer,
  takeGsm8kFewShotPool,
  Gsm8kRowSchema,
  FEW_SHOT_POOL,
  type Gsm8kRow,
  type Gsm8kSplit,
} from './data.js';
export {
  GSM8K_PRESETS,
  GSM8K_PRESET_NAMES,
  Gsm8kPresetSchema,
  resolveGsm8kPreset,
  type Gsm8kPreset,
  type Gsm8kPresetName,
} from './presets.js';
export { renderGsm8kShot, renderGsm8kPrompt, toGsm8kPromptCompletion, toGsm8kMessages, GSM8K_STOP } from './prompts.js';
export { sampleSafetyPrompts, type SafetyPrompt } from './safety.js';
export {
  Gsm8kThresholdsSchema,
  DEFAULT_GSM8K_THRESHOLDS,
  checkGsm8kThresholds,
  type Gsm8kThresholds,
  type Gsm8kOutcome,
  type ThresholdCheck,
} from './thresholds.js';
export { formatSummaryCsv, writeSummaryCsv, writeConfigResolved, SUMMARY_COLUMNS, type Gsm8kSummaryRow } from './results.js';
export {
  runGsm8kPipeline,
  prepareGsm8kData,
  keywordSafety,
  GSM8K_PIPELINE_PRESETS,
  type Gsm8kPipelinePreset,
  type Gsm8kDataSizes,
  type Gsm8kPipelineOptions,
  type Gsm8kPipelineResult,
  type SafetyJudgeOptions,
  type SweepEntry,
} from './pipeline.js';
