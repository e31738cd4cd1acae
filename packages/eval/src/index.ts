/**
 * Evaluation for `@lora`: metrics (canonical-JSON exact match, slot F1, schema-valid and JSON-valid
 * rates, classification with confusion matrices, set match, GSM8K extraction as
 * lm-evaluation-harness, multiple-choice acc / acc_norm, calibration), a resumable generation
 * runner with latency and memory measurements, and base-vs-adapter reports (markdown, CSV, JSON,
 * SVG plots).
 *
 * @example
 * ```ts
 * import { runEval } from '@lora/eval';
 * const { files } = await runEval({
 *   model: 'models/Qwen3-0.6B', tokenizer, testFile: 'test.jsonl', outDir: 'out/eval',
 *   metrics: ['json_exact_match', 'slot_f1', 'json_valid'], adapters: [{ dir: 'out/adapter', name: 'lora' }],
 * });
 * console.log(files.summary); // out/eval/comparison_summary.md
 * ```
 *
 * @packageDocumentation
 */
export {
  extractJson,
  canonicalJson,
  jsonValidRate,
  type JsonExtraction,
  type ExtractedJson,
  type ExtractJsonOptions,
  type JsonValidReport,
} from './metrics/json.js';
export {
  toToolCall,
  toToolCalls,
  canonicalCall,
  referenceValue,
  jsonExactMatch,
  slotsOf,
  slotF1,
  prf,
  type ToolCall,
  type JsonMetricOptions,
  type Prf,
  type SlotF1Report,
} from './metrics/tool-call.js';
export { compileSchema, schemaValidRate, type OutputSchema, type SchemaCheck, type SchemaValidReport } from './metrics/schema-valid.js';
export {
  classificationMetrics,
  type ClassificationOptions,
  type ClassificationReport,
  type ClassScores,
} from './metrics/classification.js';
export { setExactMatch, type SetMatchReport } from './metrics/set-match.js';
export {
  GSM8K_INVALID,
  gsm8kStrictExtract,
  gsm8kFlexibleExtract,
  gsm8kNormalize,
  gsm8kScore,
  gsm8kAccuracy,
  type Gsm8kScore,
} from './metrics/gsm8k.js';
export { multipleChoiceOutcome, codePointLength, type OptionScore, type McOutcome } from './metrics/multiple-choice.js';
export { expectedCalibrationError, type CalibrationReport, type ReliabilityBin } from './metrics/calibration.js';
export { aliasNormalizer, type Normalizer } from './metrics/normalize.js';
export {
  scorePredictions,
  defaultLabel,
  defaultSet,
  METRIC_KINDS,
  type MetricSpec,
  type JsonSpecOptions,
  type MetricValues,
  type MetricDetails,
  type ScoreReport,
  type ScoredRecord,
} from './metrics/score.js';

export { readTestSet, toTestSet, TestExampleSchema, TestMessageSchema, type TestExample } from './runner/test-set.js';
export { readPredictions, PredictionWriter, PredictionRecordSchema, type PredictionRecord } from './runner/predictions.js';
export { percentile, summarizeLatency, type LatencySummary } from './runner/stats.js';
export {
  runGeneration,
  type RunGenerationOptions,
  type GenerationSettings,
  type GenerationProgress,
  type GenerationStats,
} from './runner/run-generation.js';
export {
  scoreMultipleChoice,
  encodePair,
  McItemSchema,
  type McItem,
  type McQuestionResult,
  type McReport,
  type ScoreMultipleChoiceOptions,
} from './mc-scoring.js';

export {
  writeRunMetrics,
  readRuns,
  writeComparison,
  rebuildReport,
  checkRunName,
  REPORT_FILES,
  METRICS_FORMAT_VERSION,
  type RunMetrics,
  type ComparisonFiles,
} from './reports/report.js';
export { groupedBarChart, reliabilityDiagram } from './reports/svg.js';
export {
  runEval,
  evaluateVariants,
  adapterVariants,
  prepareEval,
  generateVariant,
  scoreVariant,
  resolveMetrics,
  adapterNames,
  evalVariantNames,
  evalMeta,
  type VariantSlice,
  type ScoreVariantOptions,
  type RunEvalOptions,
  type EvaluateVariantsOptions,
  type EvalResult,
  type Variant,
  type AdapterSwitch,
  type MetricInput,
  type TaskMetrics,
} from './run-eval.js';
export { promptRowsFromChats, type ChatMessageLike } from './runner/chat-rows.js';
