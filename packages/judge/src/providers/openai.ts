import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { JudgeCallError } from '../errors/judge-call-error.js';
import { loadApiKey } from '../load-api-key.js';
import type { JudgeCompletion, JudgeModel, JudgeRequest } from '../model.js';
import { parseRetryAfter } from '../runtime/retry-after.js';

/** Settings of {@link createOpenAIJudge} and {@link createOpenAICompatibleJudge}. */
export interface OpenAIJudgeSettings {
  /** Model id, e.g. `gpt-4o-mini` (or the model name a vLLM / llama.cpp / Ollama server serves). */
  model: string;
  /** API key; defaults to env `OPENAI_API_KEY`. Never logged. */
  apiKey?: string;
  /** Base URL of the API, e.g. `http://127.0.0.1:8000/v1`. Defaults to `https://api.openai.com/v1`. */
  baseURL?: string;
  /** Custom fetch (proxies, instrumentation). Defaults to the global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Per-attempt timeout in milliseconds (default 60 000). */
  timeoutMs?: number;
  /**
   * How to ask for JSON: `json_schema` (structured outputs, default), `json_object` (JSON mode,
   * schema only in the prompt) or `none` (prompt only; for servers without either).
   */
  structuredOutputs?: 'json_schema' | 'json_object' | 'none';
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
}

const ChatCompletionSchema = z.object({
  choices: z
    .array(z.object({ message: z.object({ content: z.string().nullable().optional(), refusal: z.string().nullable().optional() }) }))
    .min(1),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).nullable().optional(),
});

/**
 * A {@link JudgeModel} on the OpenAI chat-completions API through the official `openai` SDK, with
 * structured outputs (`response_format: json_schema` built from the zod schema). The SDK's own
 * retries are off: {@link JudgeClient} retries.
 *
 * @example
 * ```ts
 * const judge = createOpenAIJudge({ model: 'gpt-4o-mini' }); // OPENAI_API_KEY from env
 * ```
 */
export function createOpenAIJudge(settings: OpenAIJudgeSettings): JudgeModel {
  return createChatCompletionsJudge('openai', settings, ['OPENAI_API_KEY']);
}

/**
 * A {@link JudgeModel} on any OpenAI-compatible chat-completions server (vLLM, llama.cpp server,
 * Ollama) by `baseURL`. The key defaults to env `OPENAI_API_KEY`, or a placeholder when unset
 * (local servers usually ignore it).
 *
 * @example
 * ```ts
 * const judge = createOpenAICompatibleJudge({ model: 'qwen2.5:7b', baseURL: 'http://127.0.0.1:11434/v1' });
 * ```
 */
export function createOpenAICompatibleJudge(settings: OpenAIJudgeSettings & { baseURL: string }): JudgeModel {
  const apiKey = settings.apiKey ?? process.env['OPENAI_API_KEY'] ?? 'not-needed';
  return createChatCompletionsJudge('openai-compatible', { ...settings, apiKey }, ['OPENAI_API_KEY']);
}

function createChatCompletionsJudge(provider: string, settings: OpenAIJudgeSettings, envNames: string[]): JudgeModel {
  const apiKey = loadApiKey({ apiKey: settings.apiKey, environmentVariableNames: envNames, description: 'OpenAI' });
  const client = new OpenAI({
    apiKey,
    ...(settings.baseURL === undefined ? {} : { baseURL: settings.baseURL }),
    ...(settings.fetch === undefined ? {} : { fetch: settings.fetch }),
    ...(settings.headers === undefined ? {} : { defaultHeaders: settings.headers }),
    timeout: settings.timeoutMs ?? 60_000,
    maxRetries: 0,
  });
  const mode = settings.structuredOutputs ?? 'json_schema';
  return {
    provider,
    modelId: settings.model,
    ...(settings.baseURL === undefined ? {} : { endpoint: settings.baseURL }),
    async complete(request: JudgeRequest, options = {}): Promise<JudgeCompletion> {
      const format = request.responseFormat;
      let responseFormat: OpenAI.ChatCompletionCreateParams['response_format'];
      if (format !== undefined && mode === 'json_schema') responseFormat = zodResponseFormat(format.schema as never, format.name);
      else if (format !== undefined && mode === 'json_object') responseFormat = { type: 'json_object' };
      let raw: unknown;
      try {
        raw = await client.chat.completions.create(
          {
            model: settings.model,
            messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
            temperature: request.temperature ?? 0,
            ...(request.maxOutputTokens === undefined ? {} : { max_completion_tokens: request.maxOutputTokens }),
            ...(responseFormat === undefined ? {} : { response_format: responseFormat }),
          },
          options.signal === undefined ? {} : { signal: options.signal },
        );
      } catch (error) {
        throw toJudgeCallError(provider, error);
      }
      const parsed = ChatCompletionSchema.safeParse(raw);
      if (!parsed.success) {
        throw new JudgeCallError({
          provider,
          kind: 'invalid-response',
          message: `unexpected chat-completions body: ${parsed.error.message}`,
        });
      }
      const choice = parsed.data.choices[0];
      const text = choice?.message.content ?? '';
      if (text === '' && choice?.message.refusal) {
        throw new JudgeCallError({ provider, kind: 'invalid-response', message: `model refused: ${choice.message.refusal}` });
      }
      return {
        text,
        usage: { inputTokens: parsed.data.usage?.prompt_tokens ?? 0, outputTokens: parsed.data.usage?.completion_tokens ?? 0 },
      };
    },
  };
}

function toJudgeCallError(provider: string, error: unknown): JudgeCallError {
  if (error instanceof APIConnectionTimeoutError)
    return new JudgeCallError({ provider, kind: 'timeout', message: error.message, cause: error });
  if (error instanceof APIConnectionError) return new JudgeCallError({ provider, kind: 'network', message: error.message, cause: error });
  if (error instanceof APIError && error.status !== undefined) {
    const status = error.status;
    const retryAfterMs = parseRetryAfter(error.headers);
    const kind = status === 429 ? 'rate-limit' : status === 408 ? 'timeout' : status >= 500 || status === 409 ? 'server' : 'client';
    return new JudgeCallError({
      provider,
      kind,
      status,
      message: error.message,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      cause: error,
    });
  }
  if (error instanceof SyntaxError)
    return new JudgeCallError({ provider, kind: 'invalid-response', message: `malformed response body: ${error.message}`, cause: error });
  if (error instanceof Error && error.name === 'AbortError')
    return new JudgeCallError({ provider, kind: 'timeout', message: error.message, cause: error });
  return new JudgeCallError({ provider, kind: 'network', message: error instanceof Error ? error.message : String(error), cause: error });
}
