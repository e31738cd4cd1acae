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
export type { Prf, SlotF1Report } from './metrics/tool-call.js';
export type { OutputSchema } from './metrics/schema-valid.js';
export type { ClassificationReport } from './metrics/classification.js';
export type { CalibrationReport } from './metrics/calibration.js';
export {
  scorePredictions,
  type MetricSpec,
  type JsonSpecOptions,
  type MetricDetails,
  type ScoreReport,
  type ScoredRecord,
} from './metrics/score.js';

export { toTestSet, type TestExample } from './runner/test-set.js';
export type { GenerationSettings, GenerationProgress, GenerationStats } from './runner/run-generation.js';

export type { RunMetrics, ComparisonFiles } from './reports/report.js';
export {
  scoreMultipleChoice,
  type McItem,
  type McReport,
} from './mc-scoring.js';
export type { OptionScore, McOutcome } from './metrics/multiple-choice.js';
export {
  runEval,
  evaluateVariants,
  adapterVariants,
  type RunEvalOptions,
  type EvaluateVariantsOptions,
  type EvalResult,
  type Variant,
  type MetricInput,
  type TaskMetrics,
} from './run-eval.js';
