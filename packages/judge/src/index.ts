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
  JudgeCompletion,
  StructuredOutputMode,
  StructuredOutputReport,
} from './model.js';
export { JudgeCallError, type JudgeCallErrorKind } from './errors/judge-call-error.js';
export { BudgetExceededError } from './errors/budget-exceeded-error.js';
export { createLocalJudge } from './providers/local.js';
export { createJudgeModel, type CreateJudgeModelOptions, type JudgeProviderName } from './create-judge-model.js';
export { JudgeClient, type JudgeStats } from './runtime/judge-client.js';
export type { RetryOptions } from './runtime/retry.js';

export { HAZARD_CATEGORIES, type HazardCode } from './prompts/hazards.js';
export type { RubricScore } from './prompts/schemas.js';
export { judgePairwise, type PairwiseItem, type PairwiseResult } from './judging/pairwise.js';
export { judgeAgainstReference, judgeWithRubric, judgeSafety, type PointwiseItem } from './judging/pointwise.js';
export type { RatingInterval } from './ratings/bootstrap.js';
export {
  runPairwise,
  runScore,
  type RunJudgeOptions,
  type PairwiseSummary,
  type ScoreSummary,
  type CommonSummary,
} from './run/index.js';
export { createOpenAIJudge, createOpenAICompatibleJudge, type OpenAIJudgeSettings } from './providers/openai.js';
export { createGeminiJudge } from './providers/gemini.js';
export type { Battle } from './ratings/battles.js';
export { computeElo, computeEloOrderAveraged, type EloOptions } from './ratings/elo.js';
export { bradleyTerry, type BradleyTerryResult } from './ratings/bradley-terry.js';
export { bootstrapRatings } from './ratings/bootstrap.js';
export { LoadApiKeyError } from './errors/load-api-key-error.js';
