import type { z } from 'zod';

/**
 * How an OpenAI-compatible judge asks for JSON: `json_schema` (structured outputs: the server
 * constrains the reply to the schema), `json_object` (JSON mode; the schema goes in the prompt)
 * or `none` (the schema in the prompt only; the reply is validated and re-asked once).
 */
export type StructuredOutputMode = 'json_schema' | 'json_object' | 'none';

/** Which {@link StructuredOutputMode} a judge ended up using, and why (reported in run summaries). */
export interface StructuredOutputReport {
  /** `auto` (try `json_schema`, fall back on refusal) or the pinned mode. */
  requested: 'auto' | StructuredOutputMode;
  /** The mode in use now. */
  mode: StructuredOutputMode;
  /** Each step down, with the server's one-line refusal. */
  fallbacks: Array<{ from: StructuredOutputMode; to: StructuredOutputMode; status?: number; reason: string }>;
}

/** A provider-agnostic chat completion request. */
export interface JudgeRequest {
  /** Messages, system first. */
  messages: ReadonlyArray<{
    /** `system` instructions, a `user` turn, or an `assistant` turn (an earlier reply, in a re-ask). */
    role: 'system' | 'user' | 'assistant';
    /** Text of the message. */
    content: string;
  }>;
  /** Ask for JSON matching this schema (structured outputs where the provider supports them). */
  responseFormat?: {
    /** Short identifier of the schema (`[a-zA-Z0-9_-]`), sent to providers that name schemas. */
    name: string;
    /** zod schema of the reply; converted to JSON Schema for the provider. */
    schema: z.ZodType;
  };
  /** Sampling temperature; judges default to 0. */
  temperature?: number;
  /** Upper bound on generated tokens. */
  maxOutputTokens?: number;
}

/** The model's reply. */
export interface JudgeCompletion {
  /** Generated text (JSON text when `responseFormat` was set). */
  text: string;
  /** Token usage reported by the provider (zeros when unknown). */
  usage: {
    /** Prompt tokens. */
    inputTokens: number;
    /** Generated tokens. */
    outputTokens: number;
  };
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
  /** The structured-output mode in use and its fallbacks, for judges that negotiate one. */
  structuredOutputs?(): StructuredOutputReport;
  /** Runs one completion. `signal` aborts it. */
  complete(request: JudgeRequest, options?: { signal?: AbortSignal }): Promise<JudgeCompletion>;
}

/** One chat message sent to a judge (the package's name for `JudgeRequest['messages'][number]`). */
export type JudgeMessage = JudgeRequest['messages'][number];

/** A structured-output request: the reply must be JSON matching `schema`. */
export type JudgeResponseFormat = NonNullable<JudgeRequest['responseFormat']>;

/** Token usage of one call. */
export type JudgeUsage = JudgeCompletion['usage'];
