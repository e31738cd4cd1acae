import { InvalidArgumentError } from '@lora/core';
import { BudgetExceededError } from '../errors/budget-exceeded-error.js';
import { createJudgeModel, type JudgeProviderName } from '../create-judge-model.js';
import type { JudgeModel, StructuredOutputMode, StructuredOutputReport } from '../model.js';
import { JudgeClient, type JudgeStats } from '../runtime/judge-client.js';
import { defaultJudgeCacheDir } from '../runtime/disk-cache.js';
import type { PriceTable } from '../runtime/pricing.js';
import type { RetryOptions } from '../runtime/retry.js';

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
  /**
   * Answer cache directory, shared across output folders (default `defaultJudgeCacheDir`:
   * `LORA_JUDGE_CACHE_DIR`, `$XDG_CACHE_HOME/lora/judge` or `~/.cache/lora/judge`). Identical
   * requests are paid once.
   */
  cacheDir?: string;
  /** `false`: no cache at all, every request is sent (default true). */
  cache?: boolean;
  /** Most calls in flight (default 4). */
  concurrency?: number;
  /** Most call starts per minute (default unlimited). */
  requestsPerMinute?: number;
  /** Per-attempt timeout in ms (default 60 000). */
  timeoutMs?: number;
  /**
   * How `openai` / `openai-compatible` judges ask for JSON: `auto` (default for `openai-compatible`:
   * `json_schema`, then `json_object`, then `none`, stepping down when the server refuses; the
   * outcome is in the summary's `structuredOutputs`) or a pinned mode (default `json_schema` for
   * `openai`). Ignored when `judge` is given.
   */
  structuredOutputs?: 'auto' | StructuredOutputMode;
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
  onProgress?: (progress: {
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
  }) => void;
}

/** Fields shared by the summaries of {@link runPairwise} and {@link runScore}. */
export interface CommonSummary {
  /** The judge used (never the API key). */
  judge: { provider: string; model: string; baseUrl?: string };
  /** Items selected for judging. */
  items: number;
  /** Items judged. */
  judged: number;
  /** Items that failed after all retries (see `verdicts.jsonl` for the error). */
  failed: number;
  /** Items not judged because the budget stopped the run. */
  skipped: number;
  /** Call accounting. */
  calls: {
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
  };
  /** Tokens billed. */
  tokens: { input: number; output: number };
  /** Estimated cost in USD (0 when the price is unknown). */
  costUsd: number;
  /** Whether the judge model had a price. */
  priceKnown: boolean;
  /** Why the run stopped early (budget), when it did. */
  stopped?: string;
  /** The structured-output mode the judge ended with and its fallbacks (OpenAI-compatible judges). */
  structuredOutputs?: StructuredOutputReport;
  /** The distinct errors of failed items, most frequent first (at most 5), when any failed. */
  errors?: Array<{ message: string; items: number }>;
  /** Wall time of the run. */
  durationMs: number;
}

/** The judge, call, token and cost part of a summary. */
export function summaryBase(client: JudgeClient, options: RunJudgeOptions, started: number) {
  const stats = client.stats();
  return {
    judge: { provider: stats.provider, model: stats.model, ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }) },
    calls: {
      made: stats.callsMade,
      fromCache: stats.callsFromCache,
      retries: stats.retries,
      failuresByKind: stats.failuresByKind,
      failedRequests: stats.failedRequests,
    },
    tokens: { input: stats.inputTokens, output: stats.outputTokens },
    costUsd: stats.costUsd,
    priceKnown: stats.priceKnown,
    ...(client.budgetExceeded === undefined ? {} : { stopped: client.budgetExceeded.message }),
    ...(client.model.structuredOutputs === undefined ? {} : { structuredOutputs: client.model.structuredOutputs() }),
    durationMs: Date.now() - started,
  };
}

/** The `errors` of a summary: distinct messages of failed rows with their counts. */
export function summaryErrors(rows: ReadonlyArray<{ status: string; error?: string }>): Pick<CommonSummary, 'errors'> {
  const counts = new Map<string, number>();
  for (const row of rows) if (row.status === 'failed' && row.error !== undefined) counts.set(row.error, (counts.get(row.error) ?? 0) + 1);
  if (counts.size === 0) return {};
  const errors = [...counts].sort((x, y) => y[1] - x[1]).slice(0, 5);
  return { errors: errors.map(([message, items]) => ({ message, items })) };
}

/** Builds the {@link JudgeClient} of a run from its options. */
export function makeClient(options: RunJudgeOptions): JudgeClient {
  let model = options.judge;
  if (model === undefined) {
    if (options.provider === undefined || options.model === undefined) {
      throw new InvalidArgumentError({
        argument: 'provider',
        message: 'pass `provider` and `model` (e.g. openai, gpt-4o-mini), or a `judge` model',
      });
    }
    model = createJudgeModel({
      provider: options.provider,
      model: options.model,
      ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
      ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.structuredOutputs === undefined ? {} : { structuredOutputs: options.structuredOutputs }),
    });
  }
  return new JudgeClient(model, {
    ...(options.cache === false ? {} : { cacheDir: options.cacheDir ?? defaultJudgeCacheDir() }),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.requestsPerMinute === undefined ? {} : { requestsPerMinute: options.requestsPerMinute }),
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    ...(options.maxCalls === undefined ? {} : { maxCalls: options.maxCalls }),
    ...(options.maxCostUsd === undefined ? {} : { maxCostUsd: options.maxCostUsd }),
    ...(options.prices === undefined ? {} : { prices: options.prices }),
  });
}

/** Runs `work` over items (all queued at once; the client's limiter bounds the calls), catching per-item failures. */
export async function runItems<I, R>(
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
      onProgress?.({
        completed,
        total: items.length,
        callsMade: stats.callsMade,
        callsFromCache: stats.callsFromCache,
        costUsd: stats.costUsd,
      });
      return row;
    }),
  );
}
