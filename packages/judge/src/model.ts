import type { z } from 'zod';

/** One chat message sent to a judge. */
export interface JudgeMessage {
  /** `system` instructions or the `user` turn. */
  role: 'system' | 'user';
  /** Text of the message. */
  content: string;
}

/** A structured-output request: the reply must be JSON matching `schema`. */
export interface JudgeResponseFormat {
  /** Short identifier of the schema (`[a-zA-Z0-9_-]`), sent to providers that name schemas. */
  name: string;
  /** zod schema of the reply; converted to JSON Schema for the provider. */
  schema: z.ZodType;
}

/** A provider-agnostic chat completion request. */
export interface JudgeRequest {
  /** Messages, system first. */
  messages: readonly JudgeMessage[];
  /** Ask for JSON matching this schema (structured outputs where the provider supports them). */
  responseFormat?: JudgeResponseFormat;
  /** Sampling temperature; judges default to 0. */
  temperature?: number;
  /** Upper bound on generated tokens. */
  maxOutputTokens?: number;
}

/** Token usage of one call. */
export interface JudgeUsage {
  /** Prompt tokens. */
  inputTokens: number;
  /** Generated tokens. */
  outputTokens: number;
}

/** The model's reply. */
export interface JudgeCompletion {
  /** Generated text (JSON text when `responseFormat` was set). */
  text: string;
  /** Token usage reported by the provider (zeros when unknown). */
  usage: JudgeUsage;
}

/**
 * The one interface every judge provider implements: complete a chat, optionally constrained to
 * a JSON schema. Implementations do one attempt; retries, caching, limits and budgets live in
 * {@link JudgeClient}. Implementations throw {@link JudgeCallError} on failure.
 */
export interface JudgeModel {
  /** Provider name, part of the cache key (`openai`, `gemini`, `openai-compatible`, `local`). */
  readonly provider: string;
  /** Model id, part of the cache key and the price lookup. */
  readonly modelId: string;
  /**
   * Base URL when not the provider's default, part of the cache key: two servers answering to
   * the same model name (local `openai-compatible` ones often do) never share answers.
   */
  readonly endpoint?: string;
  /** Runs one completion. `signal` aborts it. */
  complete(request: JudgeRequest, options?: { signal?: AbortSignal }): Promise<JudgeCompletion>;
}
