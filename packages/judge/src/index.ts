/**
 * LLM-as-a-judge for `@lora`, tensor-free: OpenAI, Gemini, OpenAI-compatible endpoints (vLLM,
 * llama.cpp server, Ollama) and local models behind one {@link JudgeModel} interface; pointwise
 * (reference, rubric, safety) and blind two-order pairwise judging; win/tie/loss, Elo and
 * Bradley–Terry ratings with bootstrap CIs; retries, rate and concurrency limits, a persistent
 * cache, cost accounting and a budget cap.
 *
 * @example
 * ```ts
 * import { runPairwise } from '@lora/judge';
 * const summary = await runPairwise({ a: 'base.jsonl', b: 'lora.jsonl', provider: 'openai', model: 'gpt-4o-mini', out: 'out/judge' });
 * console.log(summary.wins, summary.ties, summary.losses, summary.bradleyTerry);
 * ```
 *
 * @packageDocumentation
 */
export type {
  JudgeModel,
  JudgeRequest,
  JudgeMessage,
  JudgeResponseFormat,
  JudgeCompletion,
  JudgeUsage,
  StructuredOutputMode,
  StructuredOutputReport,
} from './model.js';
export { JudgeCallError, type JudgeCallErrorKind } from './errors/judge-call-error.js';
export { BudgetExceededError } from './errors/budget-exceeded-error.js';
export { LoadApiKeyError } from './errors/load-api-key-error.js';
export { loadApiKey } from './load-api-key.js';
export { createOpenAIJudge, createOpenAICompatibleJudge, type OpenAIJudgeSettings } from './providers/openai.js';
export { createGeminiJudge, type GeminiJudgeSettings } from './providers/gemini.js';
export { createLocalJudge, defaultFormatPrompt, type LocalJudgeSettings } from './providers/local.js';
export {
  createJsonSchemaAcceptor,
  type JsonSchemaAcceptor,
  type JsonSchemaAcceptorOptions,
  type AcceptorState,
} from './constrained/json-schema-acceptor.js';
export { createJudgeModel, type CreateJudgeModelOptions, type JudgeProviderName } from './create-judge-model.js';
export { JudgeClient, extractJson, type JudgeClientOptions, type JudgeStats, type JudgeJsonResult } from './runtime/judge-client.js';
export { DiskCache, cacheKey, defaultJudgeCacheDir, type CacheEntry } from './runtime/disk-cache.js';
export { Limiter, type LimiterOptions } from './runtime/limiter.js';
export { retryWithBackoff, backoffDelay, type RetryOptions } from './runtime/retry.js';
export { parseRetryAfter } from './runtime/retry-after.js';
export { defaultPrices, findPrice, costOf, type ModelPrice, type PriceTable } from './runtime/pricing.js';
export { HAZARD_CATEGORIES, HAZARD_CODES, hazardOfPromptSetCode, type HazardCode } from './prompts/hazards.js';
export {
  PairwiseVerdictSchema,
  ReferenceVerdictSchema,
  SafetyVerdictSchema,
  rubricScoreSchema,
  type PairwiseVerdict,
  type ReferenceVerdict,
  type SafetyVerdict,
  type RubricScore,
} from './prompts/schemas.js';
export { pairwiseMessages, referenceMessages, rubricMessages, safetyMessages } from './prompts/prompts.js';
export { judgePairwise, type PairwiseItem, type PairwiseOutcome, type PairwiseResult } from './judging/pairwise.js';
export { judgeAgainstReference, judgeWithRubric, judgeSafety, type PointwiseItem } from './judging/pointwise.js';
export { winTieLoss, playersOf, type Battle, type WinTieLoss } from './ratings/battles.js';
export { computeElo, computeEloOrderAveraged, type EloOptions } from './ratings/elo.js';
export { bradleyTerry, type BradleyTerryOptions, type BradleyTerryResult } from './ratings/bradley-terry.js';
export { bootstrapRatings, quantile, type BootstrapOptions, type RatingInterval } from './ratings/bootstrap.js';
export { readPredictions, writeJsonl, writeFileAtomic, PredictionRecordSchema, type PredictionRecord } from './io/predictions.js';
export {
  runPairwise,
  runScore,
  type RunJudgeOptions,
  type RunPairwiseOptions,
  type RunScoreOptions,
  type PairwiseSummary,
  type ScoreSummary,
  type PairwiseVerdictRow,
  type CallSummary,
  type JudgeProgress,
  type CommonSummary,
} from './run/index.js';
