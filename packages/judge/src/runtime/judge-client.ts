import { z } from 'zod';
import { BudgetExceededError } from '../errors/budget-exceeded-error.js';
import { JudgeCallError, type JudgeCallErrorKind } from '../errors/judge-call-error.js';
import type { JudgeCompletion, JudgeModel, JudgeRequest } from '../model.js';
import { DiskCache, cacheKey } from './disk-cache.js';
import { Limiter } from './limiter.js';
import { costOf, defaultPrices, findPrice, type ModelPrice, type PriceTable } from './pricing.js';
import { retryWithBackoff, type RetryOptions } from './retry.js';
import { oneLine } from './http-error.js';
import { InvalidArgumentError } from '@lora/core';

/** Counters of a {@link JudgeClient}; all cumulative. */
export interface JudgeStats {
  /** Provider name. */
  provider: string;
  /** Model id. */
  model: string;
  /** HTTP (or local) calls issued, retries included. */
  callsMade: number;
  /** Requests answered from the cache. */
  callsFromCache: number;
  /** Retries after failed attempts. */
  retries: number;
  /** Failed attempts by kind (`rate-limit`, `server`, `timeout`, `network`, `invalid-response`, `client`). */
  failuresByKind: Partial<Record<JudgeCallErrorKind, number>>;
  /** Requests that failed for good (after retries). */
  failedRequests: number;
  /** Prompt tokens billed. */
  inputTokens: number;
  /** Output tokens billed. */
  outputTokens: number;
  /** Estimated cost in USD (0 when the model's price is unknown). */
  costUsd: number;
  /** Whether the model had a price in the table. */
  priceKnown: boolean;
}

/**
 * Extracts a JSON value from model text: the whole text, else the body of a fenced code block,
 * else the span from the first `{` to the last `}`. Returns `undefined` when none parses.
 */
export function extractJson(text: string): unknown {
  const candidates = [text.trim()];
  const fence = /```(?:json)?\s*([\s\S]*?)```/i.exec(text);
  if (fence?.[1] !== undefined) candidates.push(fence[1].trim());
  const first = text.indexOf('{');
  const last = text.lastIndexOf('}');
  if (first >= 0 && last > first) candidates.push(text.slice(first, last + 1));
  for (const candidate of candidates) {
    try {
      return JSON.parse(candidate) as unknown;
    } catch {
      // try the next candidate
    }
  }
  return undefined;
}

/** `request` continued by the invalid reply and a request to answer again, valid this time. */
function reask<R extends JudgeRequest>(request: R, invalid: { text: string; error: string }): R {
  return {
    ...request,
    messages: [
      ...request.messages,
      { role: 'assistant', content: invalid.text },
      {
        role: 'user',
        content: `Your reply was not valid: ${invalid.error}. Reply again with one JSON object only, exactly as instructed.`,
      },
    ],
  };
}

/**
 * Wraps a {@link JudgeModel} with what production judging needs: a concurrency and rate limit,
 * retries with backoff and jitter for what a retry can fix (429 honouring `Retry-After`, 408, 409,
 * 5xx, timeouts, connection errors, malformed bodies), one re-ask quoting the error for a reply
 * that is not JSON or misses the schema, no retry for validation or auth errors (a 401/403 stops
 * every later call), a persistent cache keyed by sha256(provider + model + full request),
 * in-flight de-duplication, token and cost accounting, and a budget cap.
 *
 * @example
 * ```ts
 * const client = new JudgeClient(createOpenAIJudge({ model: 'gpt-4o-mini' }), { cacheDir: '.judge-cache', maxCostUsd: 2 });
 * const { value } = await client.completeJson({ messages, responseFormat: { name: 'verdict', schema: VerdictSchema } });
 * ```
 */
export class JudgeClient {
  /** The wrapped model. */
  readonly model: JudgeModel;
  private readonly options: JudgeClientOptions;
  private readonly cache: DiskCache | undefined;
  private readonly limiter: Limiter;
  private readonly price: ModelPrice | undefined;
  private readonly inFlight = new Map<string, Promise<{ value: unknown; cached: boolean }>>();
  /** Settles once the latest request and every one before it have joined the limiter queue (or needed no call). */
  private queueTurn: Promise<void> = Promise.resolve();
  private budgetError: BudgetExceededError | undefined;
  /** The first `auth` failure: the key is wrong for this endpoint, so no later call is sent. */
  private fatalError: JudgeCallError | undefined;
  private readonly counters: JudgeStats;

  constructor(
    model: JudgeModel,
    options: {
      /** Directory of the persistent answer cache; no cache when unset. */
      cacheDir?: string;
      /** Most calls in flight at once (default 4). */
      concurrency?: number;
      /** Most call starts per minute (default unlimited). */
      requestsPerMinute?: number;
      /** Retry and backoff settings (default 4 retries, 500 ms doubling, jitter 0.5). */
      retry?: RetryOptions;
      /** Stop issuing calls once this many have been made (cache hits are free and still served). Calls go to requests in the order they were made, so the same requests are answered on every run. */
      maxCalls?: number;
      /** Stop issuing calls once this much has been spent, in USD. Needs a known price for the model. */
      maxCostUsd?: number;
      /** Price table (default `defaultPrices`). */
      prices?: PriceTable;
    } = {},
  ) {
    this.model = model;
    this.options = options;
    this.cache = options.cacheDir === undefined ? undefined : new DiskCache(options.cacheDir);
    this.limiter = new Limiter({
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.requestsPerMinute === undefined ? {} : { requestsPerMinute: options.requestsPerMinute }),
    });
    this.price = findPrice(model.modelId, options.prices ?? defaultPrices);
    if (options.maxCostUsd !== undefined && this.price === undefined) {
      throw new InvalidArgumentError({
        argument: 'maxCostUsd',
        message: `no price is known for model \`${model.modelId}\`; add it to \`prices\` (USD per 1M input/output tokens) or cap calls with \`maxCalls\``,
      });
    }
    this.counters = {
      provider: model.provider,
      model: model.modelId,
      callsMade: 0,
      callsFromCache: 0,
      retries: 0,
      failuresByKind: {},
      failedRequests: 0,
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      priceKnown: this.price !== undefined,
    };
  }

  /** A snapshot of the counters. */
  stats(): JudgeStats {
    return { ...this.counters, failuresByKind: { ...this.counters.failuresByKind } };
  }

  /** The budget error once a cap was hit, else `undefined`. */
  get budgetExceeded(): BudgetExceededError | undefined {
    return this.budgetError;
  }

  /**
   * Asks for JSON matching `request.responseFormat.schema` and returns the validated value.
   * Answers that are not JSON or do not match are re-asked (the reply and the error are sent back);
   * the same wrong reply twice ends the request. Only valid answers are cached. Throws {@link BudgetExceededError} when a cap stops a needed call, and
   * {@link JudgeCallError} when retries run out.
   */
  async completeJson<S extends z.ZodType>(
    request: JudgeRequest & { responseFormat: { name: string; schema: S } },
  ): Promise<{
    /** The validated value. */
    value: z.output<S>;
    /** Whether the answer came from the cache. */
    cached: boolean;
  }> {
    const key = cacheKey(this.model.provider, this.model.modelId, {
      ...(this.model.endpoint === undefined ? {} : { endpoint: this.model.endpoint }),
      messages: request.messages,
      temperature: request.temperature ?? 0,
      maxOutputTokens: request.maxOutputTokens ?? null,
      responseFormat: { name: request.responseFormat.name, jsonSchema: z.toJSONSchema(request.responseFormat.schema) },
    });
    const pending = this.inFlight.get(key);
    if (pending !== undefined) {
      const shared = await pending;
      return { value: shared.value as z.output<S>, cached: true };
    }
    const promise = this.resolve(key, request);
    this.inFlight.set(key, promise);
    try {
      return (await promise) as { value: z.output<S>; cached: boolean };
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async resolve(
    key: string,
    request: JudgeRequest & { responseFormat: { name: string; schema: z.ZodType } },
  ): Promise<{ value: unknown; cached: boolean }> {
    const schema = request.responseFormat.schema;
    // Requests join the limiter queue in the order they were made, not in the order their cache
    // lookups finish, so a `maxCalls`/`maxCostUsd` cap stops the same requests on every run. The
    // lookups still overlap; only the first call of each request waits for its turn.
    const lookup = this.cache?.get(key);
    const previousTurn = this.queueTurn;
    let queued!: () => void;
    const own = new Promise<void>((resolve) => (queued = resolve));
    this.queueTurn = previousTurn.then(() => own);
    try {
      const hit = await lookup;
      if (hit !== undefined) {
        const parsed = schema.safeParse(extractJson(hit.text));
        if (parsed.success) {
          this.counters.callsFromCache++;
          return { value: parsed.data, cached: true };
        }
      }
      await previousTurn;
      return await this.ask(key, request, queued);
    } finally {
      queued();
    }
  }

  /** Calls the model until a valid answer (re-asking on invalid replies), caches and returns it. */
  private async ask(
    key: string,
    request: JudgeRequest & { responseFormat: { name: string; schema: z.ZodType } },
    queued: () => void,
  ): Promise<{ value: unknown; cached: boolean }> {
    const schema = request.responseFormat.schema;
    // A reply that fails validation is answered by a re-ask quoting it and the error, not by the
    // same request again (a deterministic server would repeat itself); the same wrong reply twice
    // ends the request.
    let invalid: { text: string; error: string } | undefined;
    try {
      const { value, completion } = await retryWithBackoff(
        async () => {
          const sent = invalid === undefined ? request : reask(request, invalid);
          let completion: JudgeCompletion;
          try {
            const pending = this.limiter.run(() => this.call(sent));
            queued();
            completion = await pending;
          } catch (error) {
            if (!BudgetExceededError.isInstance(error) && error !== this.fatalError) this.countFailure(error);
            throw error;
          }
          const json = extractJson(completion.text);
          const parsed = schema.safeParse(json);
          if (!parsed.success) {
            const problem =
              json === undefined
                ? `reply is not JSON: ${oneLine(completion.text, undefined, 200)}`
                : `reply does not match schema \`${request.responseFormat.name}\`: ${oneLine(parsed.error.message, undefined, 200)}`;
            const repeated = invalid !== undefined && invalid.text === completion.text;
            const error = new JudgeCallError({
              provider: this.model.provider,
              kind: 'invalid-response',
              message: repeated ? `${problem} (the same reply again after a re-ask)` : problem,
              ...(repeated ? { retryable: false } : {}),
            });
            this.countFailure(error);
            invalid = { text: completion.text, error: problem };
            throw error;
          }
          return { value: parsed.data as unknown, completion };
        },
        {
          ...this.options.retry,
          onRetry: (event) => {
            this.counters.retries++;
            this.options.retry?.onRetry?.(event);
          },
        },
      );
      await this.cache?.set(key, { provider: this.model.provider, model: this.model.modelId, completion });
      return { value, cached: false };
    } catch (error) {
      if (!BudgetExceededError.isInstance(error)) this.counters.failedRequests++;
      throw error;
    }
  }

  /**
   * One model call inside a limiter slot. The budget is checked when the call would start (not
   * when queued) and usage is booked before the slot is handed on, so queued work stops exactly at
   * the cap. A `response-format` refusal (the provider stepped down to a weaker structured-output
   * mode) is sent again at once in the same slot; an `auth` failure stops every later call.
   */
  private async call(request: JudgeRequest): Promise<JudgeCompletion> {
    for (let redo = 0; ; redo++) {
      if (this.fatalError !== undefined) throw this.fatalError;
      this.checkBudget();
      this.counters.callsMade++;
      try {
        const answer = await this.model.complete(request);
        this.account(answer);
        return answer;
      } catch (error) {
        if (JudgeCallError.isInstance(error) && error.kind === 'auth') {
          // The provider may fail later requests with the first auth error without sending them.
          if (error === this.fatalError) this.counters.callsMade--;
          else this.countFailure(error);
          this.fatalError ??= error;
          throw error;
        }
        if (!JudgeCallError.isInstance(error) || error.kind !== 'response-format' || redo >= 2) throw error;
        this.countFailure(error);
      }
    }
  }

  private checkBudget(): void {
    if (this.budgetError !== undefined) throw this.budgetError;
    const { maxCalls, maxCostUsd } = this.options;
    const { callsMade, costUsd } = this.counters;
    if (maxCalls !== undefined && callsMade >= maxCalls) {
      this.budgetError = new BudgetExceededError({ limit: 'calls', cap: maxCalls, callsMade, costUsd });
    } else if (maxCostUsd !== undefined && costUsd >= maxCostUsd) {
      this.budgetError = new BudgetExceededError({ limit: 'cost', cap: maxCostUsd, callsMade, costUsd });
    }
    if (this.budgetError !== undefined) throw this.budgetError;
  }

  private account(completion: JudgeCompletion): void {
    this.counters.inputTokens += completion.usage.inputTokens;
    this.counters.outputTokens += completion.usage.outputTokens;
    this.counters.costUsd += costOf(completion.usage, this.price);
  }

  private countFailure(error: unknown): void {
    const kind: JudgeCallErrorKind = JudgeCallError.isInstance(error) ? error.kind : 'network';
    this.counters.failuresByKind[kind] = (this.counters.failuresByKind[kind] ?? 0) + 1;
  }
}

/** Production settings of a {@link JudgeClient} (its constructor's second argument). */
export type JudgeClientOptions = NonNullable<ConstructorParameters<typeof JudgeClient>[1]>;
