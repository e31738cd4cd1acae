import { basename, join } from 'node:path';
import { FileFormatError, InvalidArgumentError } from '@lora/core';
import { BudgetExceededError } from './errors/budget-exceeded-error.js';
import { createJudgeModel, type JudgeProviderName } from './create-judge-model.js';
import { readPredictions, writeFileAtomic, writeJsonl, type PredictionRecord } from './io/predictions.js';
import { judgePairwise, type PairwiseResult } from './judging/pairwise.js';
import { judgeAgainstReference, judgeSafety, judgeWithRubric } from './judging/pointwise.js';
import type { JudgeModel } from './model.js';
import { HAZARD_CODES, type HazardCode } from './prompts/hazards.js';
import { JudgeClient, type JudgeStats } from './runtime/judge-client.js';
import type { PriceTable } from './runtime/pricing.js';
import type { RetryOptions } from './runtime/retry.js';
import type { Battle } from './ratings/battles.js';
import { winTieLoss } from './ratings/battles.js';
import { bootstrapRatings, type RatingInterval } from './ratings/bootstrap.js';
import { bradleyTerry } from './ratings/bradley-terry.js';
import { computeElo, computeEloOrderAveraged } from './ratings/elo.js';

/** Progress of a run, reported after every item. */
export interface JudgeProgress {
  /** Items finished (judged, failed or skipped). */
  completed: number;
  /** Items in the run. */
  total: number;
  /** Calls issued so far. */
  callsMade: number;
  /** Calls served from the cache so far. */
  callsFromCache: number;
  /** Cost so far in USD. */
  costUsd: number;
}

/** Options shared by {@link runPairwise} and {@link runScore}. */
export interface RunJudgeOptions {
  /** Provider of the judge (ignored when `judge` is given). */
  provider?: JudgeProviderName;
  /** Judge model id (ignored when `judge` is given). */
  model?: string;
  /** A ready judge model (e.g. {@link createLocalJudge}); overrides `provider` / `model`. */
  judge?: JudgeModel;
  /** Base URL of the provider (required for `openai-compatible`). */
  baseUrl?: string;
  /** API key; else read from the environment. Never written to outputs. */
  apiKey?: string;
  /** Output directory: `summary.json` and `verdicts.jsonl` are written there. */
  out: string;
  /** Answer cache directory (default `<out>/cache`). Reruns with the same cache pay nothing twice. */
  cacheDir?: string;
  /** Most calls in flight (default 4). */
  concurrency?: number;
  /** Most call starts per minute (default unlimited). */
  requestsPerMinute?: number;
  /** Per-attempt timeout in ms (default 60 000). */
  timeoutMs?: number;
  /** Retry/backoff settings (default 4 retries from 500 ms, doubling, jitter 0.5). */
  retry?: RetryOptions;
  /** Stop issuing calls after this many. */
  maxCalls?: number;
  /** Stop issuing calls after this many USD. */
  maxCostUsd?: number;
  /** Price table overriding the defaults (USD per 1M tokens). */
  prices?: PriceTable;
  /** Judge only the first N items. */
  limit?: number;
  /** Extra judging criteria added to the instructions. */
  criteria?: string;
  /** Called after every item. */
  onProgress?: (progress: JudgeProgress) => void;
}

/** Call and cost accounting in a summary. */
export interface CallSummary {
  /** Calls issued (retries included). */
  made: number;
  /** Calls answered from the cache. */
  fromCache: number;
  /** Retries. */
  retries: number;
  /** Failed attempts by kind. */
  failuresByKind: JudgeStats['failuresByKind'];
  /** Requests that failed after all retries. */
  failedRequests: number;
}

interface CommonSummary {
  judge: { provider: string; model: string; baseUrl?: string };
  items: number;
  judged: number;
  failed: number;
  skipped: number;
  calls: CallSummary;
  tokens: { input: number; output: number };
  costUsd: number;
  priceKnown: boolean;
  stopped?: string;
  durationMs: number;
}

/** Options of {@link runPairwise}. */
export interface RunPairwiseOptions extends RunJudgeOptions {
  /** Predictions JSONL of system A. */
  a: string;
  /** Predictions JSONL of system B. */
  b: string;
  /** Display name of A in outputs (default: file name without `.jsonl`). Never shown to the judge. */
  nameA?: string;
  /** Display name of B in outputs. */
  nameB?: string;
  /** Bootstrap resamples for the confidence intervals (default 1000). */
  bootstrapSamples?: number;
  /** Confidence level of the intervals (default 0.95). */
  confidence?: number;
  /** Seed of the bootstrap and Elo orderings (default 0). */
  seed?: number;
  /** Elo K factor (default 4). */
  eloK?: number;
  /** Random orders averaged for Elo (default 100). */
  eloPermutations?: number;
  /** Virtual ties per pair in Bradley–Terry, keeping ratings finite on a sweep (default 1). */
  btPriorTies?: number;
}

/** `summary.json` of a pairwise run. */
export interface PairwiseSummary extends CommonSummary {
  /** Run kind. */
  kind: 'pairwise';
  /** Display names and files of the systems. */
  models: { a: string; b: string; fileA: string; fileB: string };
  /** Ids in only one of the files (not judged). */
  unmatched: number;
  /** Items A won (both orders agreed). */
  wins: number;
  /** Items tied, including order disagreements. */
  ties: number;
  /** Items A lost. */
  losses: number;
  /** Items where the two orders disagreed (counted as ties). */
  inconsistent: number;
  /** (wins + ties / 2) / judged. */
  winRate: number;
  /** Bradley–Terry ratings (Elo scale, mean 1000) with bootstrap intervals. */
  bradleyTerry: Record<string, RatingInterval>;
  /** Order-averaged Elo with bootstrap intervals. */
  elo: Record<string, RatingInterval>;
  /** How the ratings were computed. */
  ratingMethod: { bradleyTerry: string; elo: string; bootstrapSamples: number; confidence: number; seed: number };
}

/** One line of `verdicts.jsonl` of a pairwise run. */
export type PairwiseVerdictRow =
  | (PairwiseResult & { status: 'judged' })
  | { id: string; status: 'failed' | 'skipped'; error: string };

function summaryBase(client: JudgeClient, options: RunJudgeOptions, started: number) {
  const stats = client.stats();
  return {
    judge: { provider: stats.provider, model: stats.model, ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }) },
    calls: { made: stats.callsMade, fromCache: stats.callsFromCache, retries: stats.retries, failuresByKind: stats.failuresByKind, failedRequests: stats.failedRequests },
    tokens: { input: stats.inputTokens, output: stats.outputTokens },
    costUsd: stats.costUsd,
    priceKnown: stats.priceKnown,
    ...(client.budgetExceeded === undefined ? {} : { stopped: client.budgetExceeded.message }),
    durationMs: Date.now() - started,
  };
}

function makeClient(options: RunJudgeOptions): JudgeClient {
  let model = options.judge;
  if (model === undefined) {
    if (options.provider === undefined || options.model === undefined) {
      throw new InvalidArgumentError({ argument: 'provider', message: 'pass `provider` and `model` (e.g. openai, gpt-4o-mini), or a `judge` model' });
    }
    model = createJudgeModel({
      provider: options.provider,
      model: options.model,
      ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
      ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
  }
  return new JudgeClient(model, {
    cacheDir: options.cacheDir ?? join(options.out, 'cache'),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.requestsPerMinute === undefined ? {} : { requestsPerMinute: options.requestsPerMinute }),
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    ...(options.maxCalls === undefined ? {} : { maxCalls: options.maxCalls }),
    ...(options.maxCostUsd === undefined ? {} : { maxCostUsd: options.maxCostUsd }),
    ...(options.prices === undefined ? {} : { prices: options.prices }),
  });
}

/** Runs `work` over items (all queued at once; the client's limiter bounds the calls), catching per-item failures. */
async function runItems<I, R>(
  client: JudgeClient,
  items: readonly I[],
  id: (item: I) => string,
  work: (item: I) => Promise<R>,
  onProgress: RunJudgeOptions['onProgress'],
): Promise<Array<{ id: string; status: 'judged'; result: R } | { id: string; status: 'failed' | 'skipped'; error: string }>> {
  let completed = 0;
  return Promise.all(
    items.map(async (item) => {
      let row: { id: string; status: 'judged'; result: R } | { id: string; status: 'failed' | 'skipped'; error: string };
      try {
        row = { id: id(item), status: 'judged', result: await work(item) };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        row = { id: id(item), status: BudgetExceededError.isInstance(error) ? 'skipped' : 'failed', error: message };
      }
      completed++;
      const stats = client.stats();
      onProgress?.({ completed, total: items.length, callsMade: stats.callsMade, callsFromCache: stats.callsFromCache, costUsd: stats.costUsd });
      return row;
    }),
  );
}

function systemName(file: string): string {
  return basename(file).replace(/\.jsonl$/i, '');
}

/**
 * Blind pairwise judging of two prediction files: items are matched by `id`, each is judged in
 * both orders (disagreement = tie), and the run writes `<out>/verdicts.jsonl` (one row per item)
 * and `<out>/summary.json` ({@link PairwiseSummary}: wins/ties/losses, Bradley–Terry and Elo with
 * bootstrap CIs, calls made and served from cache, tokens, cost). A budget stop skips the rest
 * and is reported in `stopped`; the call does not throw for it.
 *
 * @example
 * ```ts
 * const summary = await runPairwise({ a: 'base.jsonl', b: 'lora.jsonl', provider: 'openai', model: 'gpt-4o-mini', out: 'judge-out' });
 * ```
 */
export async function runPairwise(options: RunPairwiseOptions): Promise<PairwiseSummary> {
  const started = Date.now();
  const nameA = options.nameA ?? systemName(options.a);
  let nameB = options.nameB ?? systemName(options.b);
  if (nameB === nameA) nameB = `${nameB} (b)`;
  const [recordsA, recordsB] = await Promise.all([readPredictions(options.a), readPredictions(options.b)]);
  const byIdB = new Map(recordsB.map((r) => [r.id, r]));
  const pairs: Array<{ a: PredictionRecord; b: PredictionRecord }> = [];
  for (const a of recordsA) {
    const b = byIdB.get(a.id);
    if (b === undefined) continue;
    if (a.prompt !== b.prompt) {
      throw new FileFormatError({ file: options.b, line: b.line, field: 'prompt', message: `prompt of id \`${a.id}\` differs from ${options.a}:${a.line}; both files must answer the same prompts` });
    }
    pairs.push({ a, b });
  }
  const unmatched = recordsA.length + recordsB.length - 2 * pairs.length;
  const selected = options.limit === undefined ? pairs : pairs.slice(0, options.limit);
  const client = makeClient(options);
  const rows = await runItems(
    client,
    selected,
    (p) => p.a.id,
    (p) =>
      judgePairwise(
        client,
        { id: p.a.id, prompt: p.a.prompt, a: p.a.prediction, b: p.b.prediction, ...(p.a.reference === undefined ? {} : { reference: p.a.reference }) },
        options.criteria === undefined ? {} : { criteria: options.criteria },
      ),
    options.onProgress,
  );
  const verdicts: PairwiseVerdictRow[] = rows.map((r) => (r.status === 'judged' ? { ...r.result, status: 'judged' } : r));
  const judged = rows.flatMap((r) => (r.status === 'judged' ? [r.result] : []));
  const battles: Battle[] = judged.map((r) => ({ model1: nameA, model2: nameB, winner: r.winner === 'a' ? 'model1' : r.winner === 'b' ? 'model2' : 'tie' }));
  const counts = winTieLoss(battles, nameA, nameB);
  const samples = options.bootstrapSamples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  const seed = options.seed ?? 0;
  const priorTies = options.btPriorTies ?? 1;
  const eloOptions = { k: options.eloK ?? 4 };
  const bt = battles.length === 0 ? {} : bootstrapRatings(battles, (bs) => bradleyTerry(bs, { priorTies }).ratings, { samples, confidence, seed });
  const eloPoint = computeEloOrderAveraged(battles, { ...eloOptions, permutations: options.eloPermutations ?? 100, seed });
  const eloCi = battles.length === 0 ? {} : bootstrapRatings(battles, (bs) => computeElo(bs, eloOptions), { samples, confidence, seed: seed + 1 });
  const elo: Record<string, RatingInterval> = {};
  for (const [p, r] of Object.entries(eloPoint)) elo[p] = { rating: r, lower: eloCi[p]?.lower ?? r, upper: eloCi[p]?.upper ?? r };
  const summary: PairwiseSummary = {
    kind: 'pairwise',
    models: { a: nameA, b: nameB, fileA: options.a, fileB: options.b },
    items: selected.length,
    judged: judged.length,
    failed: rows.filter((r) => r.status === 'failed').length,
    skipped: rows.filter((r) => r.status === 'skipped').length,
    unmatched,
    wins: counts.wins,
    ties: counts.ties,
    losses: counts.losses,
    inconsistent: judged.filter((r) => !r.consistent).length,
    winRate: judged.length === 0 ? 0 : (counts.wins + counts.ties / 2) / judged.length,
    bradleyTerry: bt,
    elo,
    ratingMethod: {
      bradleyTerry: `MLE by MM iterations, ties = half a win each, ${priorTies} virtual tie(s) per pair; Elo scale (400·log10 strength), mean 1000`,
      elo: `sequential, K=${eloOptions.k}, averaged over ${options.eloPermutations ?? 100} seeded random orders; CI from bootstrap of single-order Elo`,
      bootstrapSamples: samples,
      confidence,
      seed,
    },
    ...summaryBase(client, options, started),
  };
  await writeJsonl(join(options.out, 'verdicts.jsonl'), verdicts);
  await writeFileAtomic(join(options.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/** Options of {@link runScore}. */
export interface RunScoreOptions extends RunJudgeOptions {
  /** Predictions JSONL to judge. */
  input: string;
  /**
   * `reference`: correct / partially_correct / wrong against each line's `reference` (required);
   * `rubric`: integer score against `rubric`; `safety`: AILuminate hazard classification.
   */
  mode: 'reference' | 'rubric' | 'safety';
  /** Rubric text (mode `rubric`). */
  rubric?: string;
  /** Lowest rubric score (default 1). */
  minScore?: number;
  /** Highest rubric score (default 10). */
  maxScore?: number;
}

/** `summary.json` of a score run. */
export interface ScoreSummary extends CommonSummary {
  /** Run kind. */
  kind: 'score';
  /** Judging mode. */
  mode: RunScoreOptions['mode'];
  /** Input file. */
  input: string;
  /** Mode `reference`: verdict counts, accuracy (correct / judged) and partial credit ((correct + partial / 2) / judged). */
  reference?: { correct: number; partiallyCorrect: number; wrong: number; accuracy: number; partialCredit: number };
  /** Mode `rubric`: mean score, scale and histogram. */
  rubric?: { mean: number; minScore: number; maxScore: number; histogram: Record<string, number> };
  /** Mode `safety`: safe rate (safe / judged) and responses per hazard. */
  safety?: { safe: number; unsafe: number; safeRate: number; hazards: Record<HazardCode, number> };
}

/**
 * Pointwise judging of one predictions file (`reference`, `rubric` or `safety` mode); writes
 * `<out>/verdicts.jsonl` and `<out>/summary.json` ({@link ScoreSummary}).
 *
 * @example
 * ```ts
 * await runScore({ input: 'preds.jsonl', mode: 'reference', provider: 'gemini', model: 'gemini-2.5-flash', out: 'judge-out' });
 * ```
 */
export async function runScore(options: RunScoreOptions): Promise<ScoreSummary> {
  const started = Date.now();
  if (options.mode === 'rubric' && (options.rubric === undefined || options.rubric.trim() === '')) {
    throw new InvalidArgumentError({ argument: 'rubric', message: 'mode `rubric` needs the rubric text' });
  }
  const records = await readPredictions(options.input);
  if (options.mode === 'reference') {
    const missing = records.find((r) => r.reference === undefined);
    if (missing !== undefined) throw new FileFormatError({ file: options.input, line: missing.line, field: 'reference', message: 'mode `reference` needs a `reference` on every line' });
  }
  const selected = options.limit === undefined ? records : records.slice(0, options.limit);
  const client = makeClient(options);
  const minScore = options.minScore ?? 1;
  const maxScore = options.maxScore ?? 10;
  const rows = await runItems(client, selected, (r) => r.id, async (r): Promise<Record<string, unknown>> => {
    const item = { id: r.id, prompt: r.prompt, prediction: r.prediction, ...(r.reference === undefined ? {} : { reference: r.reference }) };
    if (options.mode === 'reference') return judgeAgainstReference(client, { ...item, reference: r.reference as string }, options.criteria === undefined ? {} : { criteria: options.criteria });
    if (options.mode === 'rubric') return judgeWithRubric(client, item, { rubric: options.rubric as string, minScore, maxScore });
    return judgeSafety(client, item);
  });
  const judged = rows.flatMap((r) => (r.status === 'judged' ? [r.result] : []));
  const n = judged.length;
  const summary: ScoreSummary = {
    kind: 'score',
    mode: options.mode,
    input: options.input,
    items: selected.length,
    judged: n,
    failed: rows.filter((r) => r.status === 'failed').length,
    skipped: rows.filter((r) => r.status === 'skipped').length,
    ...summaryBase(client, options, started),
  };
  if (options.mode === 'reference') {
    const count = (v: string) => judged.filter((j) => j['verdict'] === v).length;
    const correct = count('correct');
    const partiallyCorrect = count('partially_correct');
    summary.reference = { correct, partiallyCorrect, wrong: count('wrong'), accuracy: n === 0 ? 0 : correct / n, partialCredit: n === 0 ? 0 : (correct + partiallyCorrect / 2) / n };
  } else if (options.mode === 'rubric') {
    const histogram: Record<string, number> = {};
    let sum = 0;
    for (const j of judged) {
      const score = j['score'] as number;
      sum += score;
      histogram[String(score)] = (histogram[String(score)] ?? 0) + 1;
    }
    summary.rubric = { mean: n === 0 ? 0 : sum / n, minScore, maxScore, histogram };
  } else {
    const hazards = Object.fromEntries(HAZARD_CODES.map((c) => [c, 0])) as Record<HazardCode, number>;
    let safe = 0;
    for (const j of judged) {
      if (j['safe'] === true) safe++;
      for (const h of j['hazards'] as HazardCode[]) hazards[h]++;
    }
    summary.safety = { safe, unsafe: n - safe, safeRate: n === 0 ? 0 : safe / n, hazards };
  }
  const verdicts = rows.map((r) => (r.status === 'judged' ? { id: r.id, status: r.status, ...r.result } : r));
  await writeJsonl(join(options.out, 'verdicts.jsonl'), verdicts);
  await writeFileAtomic(join(options.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
