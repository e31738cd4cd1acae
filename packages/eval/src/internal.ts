/**
 * Internals of `@lora/eval` that other `@lora` packages, examples, benchmarks and tools build on.
 * Not part of the public API and not covered by semver: names here may change or go in any release.
 * Users import from `@lora/eval`.
 *
 * @packageDocumentation
 */
export { extractJson } from './metrics/json.js';
export { gsm8kStrictExtract, gsm8kFlexibleExtract, gsm8kNormalize, gsm8kScore } from './metrics/gsm8k.js';
export { expectedCalibrationError } from './metrics/calibration.js';
export { aliasNormalizer } from './metrics/normalize.js';
export { readPredictions, PredictionRecordSchema, type PredictionRecord } from './runner/predictions.js';
export { summarizeLatency } from './runner/stats.js';
export { writeRunMetrics, readRuns, writeComparison, rebuildReport, REPORT_FILES } from './reports/report.js';
export { groupedBarChart } from './reports/svg.js';
export {
  prepareEval,
  generateVariant,
  scoreVariant,
  resolveMetrics,
  evalVariantNames,
  evalMeta,
  type ScoreVariantOptions,
} from './run-eval.js';
export { promptRowsFromChats } from './runner/chat-rows.js';
export { jsonValidRate } from './metrics/json.js';
export { canonicalCall, jsonExactMatch, slotF1 } from './metrics/tool-call.js';
export { compileSchema, schemaValidRate } from './metrics/schema-valid.js';
export { classificationMetrics } from './metrics/classification.js';
export { setExactMatch } from './metrics/set-match.js';
export { multipleChoiceOutcome } from './metrics/multiple-choice.js';
export { runGeneration } from './runner/run-generation.js';
export { reliabilityDiagram } from './reports/svg.js';
export { METRIC_KINDS } from './metrics/score.js';
export { TestExampleSchema } from './runner/test-set.js';
export { McItemSchema } from './mc-scoring.js';
