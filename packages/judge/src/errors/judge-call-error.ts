import { LoraError, type LoraErrorOptions } from '@lora/core';

const name = 'JudgeCallError';
const symbol = Symbol.for(`lora.error.${name}`);

/**
 * What went wrong with one judge call; decides whether it is retried. `client` (a request the
 * server refuses, e.g. 400 or a validation error sent as 500) and `auth` (401/403) are not;
 * `response-format` means the server refused the structured-output mode and the provider has
 * switched to a weaker one, so the request is sent again at once.
 */
export type JudgeCallErrorKind =
  | 'rate-limit'
  | 'server'
  | 'timeout'
  | 'network'
  | 'invalid-response'
  | 'client'
  | 'auth'
  | 'response-format';

/**
 * A call to a judge model failed: an HTTP error, a timeout, a network error, or a reply that is
 * not valid JSON or does not match the verdict schema. `retryable` says whether
 * `retryWithBackoff` tries again; `retryAfterMs` carries the server's `Retry-After`.
 */
export class JudgeCallError extends LoraError {
  readonly [symbol] = true;
  /** Provider name (`openai`, `gemini`, `openai-compatible`, `local`). */
  readonly provider: string;
  /** Classification of the failure. */
  readonly kind: JudgeCallErrorKind;
  /** HTTP status when the server answered. */
  readonly status: number | undefined;
  /** Delay the server asked for (from `Retry-After`), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  /** Whether trying again can help. */
  readonly retryable: boolean;
  /** The server's (or the parser's) own message, without the provider and kind in front. */
  readonly detail: string;

  constructor(
    options: {
      provider: string;
      kind: JudgeCallErrorKind;
      message: string;
      status?: number;
      retryAfterMs?: number;
      /** Overrides the kind's default (e.g. a reply that came back identical after a re-ask). */
      retryable?: boolean;
    } & LoraErrorOptions,
  ) {
    super(
      `${options.provider} judge call failed (${options.kind}${options.status === undefined ? '' : ` ${options.status}`}): ${options.message}`,
      options,
    );
    this.name = name;
    this.provider = options.provider;
    this.kind = options.kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.detail = options.message;
    this.retryable = options.retryable ?? (options.kind !== 'client' && options.kind !== 'auth');
  }

  /** True when `error` is a {@link JudgeCallError}. */
  static override isInstance(error: unknown): error is JudgeCallError {
    return LoraError.hasMarker(error, `lora.error.${name}`);
  }
}
