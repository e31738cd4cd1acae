import { JudgeCallError } from '../errors/judge-call-error.js';

/** Backoff settings of `retryWithBackoff`. */
export interface RetryOptions {
  /** Retries after the first attempt (default 4). */
  maxRetries?: number;
  /** Delay before the first retry in ms (default 500). */
  initialDelayMs?: number;
  /** Growth factor per retry (default 2). */
  factor?: number;
  /** Largest backoff delay in ms (default 30 000). */
  maxDelayMs?: number;
  /** Jitter as a fraction of the delay: the delay is drawn from [d·(1−jitter), d] (default 0.5). */
  jitter?: number;
  /** Largest `Retry-After` honoured, in ms (default 120 000); longer waits fail instead. */
  maxRetryAfterMs?: number;
  /** Called before each wait, e.g. to count retries. */
  onRetry?: (event: { attempt: number; delayMs: number; error: JudgeCallError }) => void;
}

/**
 * The delay before retry number `attempt` (0-based): exponential backoff with jitter, or the
 * server's `Retry-After` when it is longer.
 */
export function backoffDelay(attempt: number, error: JudgeCallError | undefined, options: RetryOptions = {}, random = Math.random): number {
  const base = Math.min(options.maxDelayMs ?? 30_000, (options.initialDelayMs ?? 500) * (options.factor ?? 2) ** attempt);
  const jitter = options.jitter ?? 0.5;
  const backoff = base * (1 - jitter * random());
  const retryAfter = error?.retryAfterMs;
  return retryAfter === undefined ? backoff : Math.max(retryAfter, backoff * 0.1);
}

/**
 * Kept hand-written (issue 17 item 6): neither a library nor the SDKs give these guarantees.
 * `p-retry` has no per-error delay, so it cannot wait exactly a server's `Retry-After` (only add a
 * sleep on top of its own backoff) nor fail at once when `Retry-After` exceeds `maxRetryAfterMs`.
 * (`@google/genai`'s `retryOptions` are p-retry inside the SDK, and ignore `Retry-After`.)
 * The SDKs' own retries (openai `maxRetries`, `@google/genai` `retryOptions`) run inside one
 * `complete` call, out of {@link JudgeClient}'s sight: each attempt would not be counted against
 * `maxCalls`, nor checked against the budget before it is sent, nor spaced by the rate limiter; and
 * they retry every 5xx, including llama-cpp-python's request-validation errors sent as HTTP 500.
 * Here each attempt goes through the limiter and the budget, and an invalid reply is re-asked.
 *
 * Runs `attempt` until it succeeds, retrying retryable {@link JudgeCallError}s (429, 408, 409,
 * 5xx that are not request-validation errors, timeouts, connection errors, malformed bodies,
 * invalid replies) with exponential backoff and jitter, and honouring `Retry-After`. Other errors
 * (400, 401/403, 422, a validation error sent as 500) propagate at once.
 */
export async function retryWithBackoff<T>(attempt: (attemptIndex: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const maxRetries = options.maxRetries ?? 4;
  for (let i = 0; ; i++) {
    try {
      return await attempt(i);
    } catch (error) {
      if (!JudgeCallError.isInstance(error) || !error.retryable || i >= maxRetries) throw error;
      if (error.retryAfterMs !== undefined && error.retryAfterMs > (options.maxRetryAfterMs ?? 120_000)) throw error;
      const delayMs = backoffDelay(i, error, options);
      options.onRetry?.({ attempt: i + 1, delayMs, error });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
