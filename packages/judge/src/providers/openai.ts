import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { JudgeCallError } from '../errors/judge-call-error.js';
import { loadApiKey } from '../load-api-key.js';
import type { JudgeCompletion, JudgeModel, JudgeRequest, StructuredOutputMode } from '../model.js';
import { withSchemaInstruction } from '../prompts/schema-instruction.js';
import { httpError, httpErrorKind, oneLine } from '../runtime/http-error.js';
import { StructuredOutputNegotiator } from './structured-output-negotiator.js';

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
   * How to ask for JSON. `auto` (default of {@link createOpenAICompatibleJudge}): `json_schema`
   * (structured outputs) first; when the server refuses it (400/422, or a 5xx naming
   * `response_format`, as llama-cpp-python sends), `json_object` (JSON mode), then `none` (the JSON
   * Schema in the prompt only), remembered for this judge's lifetime and reported by
   * `structuredOutputs()`. A mode named here is used as is; {@link createOpenAIJudge} defaults to
   * `json_schema`, which the OpenAI API supports.
   */
  structuredOutputs?: 'auto' | StructuredOutputMode;
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
  return createChatCompletionsJudge('openai', { structuredOutputs: 'json_schema', ...settings }, ['OPENAI_API_KEY']);
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
  return createChatCompletionsJudge('openai-compatible', { structuredOutputs: 'auto', ...settings, apiKey }, ['OPENAI_API_KEY']);
}

function createChatCompletionsJudge(provider: string, settings: OpenAIJudgeSettings, envNames: string[]): JudgeModel {
  const apiKey = loadApiKey({ apiKey: settings.apiKey, environmentVariableNames: envNames, description: 'OpenAI' });
  const baseFetch = settings.fetch ?? globalThis.fetch;
  // The SDK keeps only `body.error` of a failed response; vLLM, Ollama and FastAPI put their message
  // elsewhere. The error is built here from the whole body and found again by the response headers.
  const httpErrors = new WeakMap<object, JudgeCallError>();
  const fetchKeepingErrors: typeof globalThis.fetch = async (input, init) => {
    const response = await baseFetch(input, init);
    if (!response.ok) httpErrors.set(response.headers, await httpError(provider, response.clone(), apiKey));
    return response;
  };
  const client = new OpenAI({
    apiKey,
    ...(settings.baseURL === undefined ? {} : { baseURL: settings.baseURL }),
    fetch: fetchKeepingErrors,
    ...(settings.headers === undefined ? {} : { defaultHeaders: settings.headers }),
    timeout: settings.timeoutMs ?? 60_000,
    // JudgeClient retries (runtime/retry.ts says why not the SDK): every attempt is counted and
    // budget-checked there, so nothing is paid for twice or past the cap.
    maxRetries: 0,
  });
  const negotiator = new StructuredOutputNegotiator(provider, settings.structuredOutputs ?? 'auto');
  const send = async (request: JudgeRequest, mode: StructuredOutputMode | undefined, signal: AbortSignal | undefined): Promise<unknown> => {
    const format = request.responseFormat;
    let responseFormat: OpenAI.ChatCompletionCreateParams['response_format'];
    if (format !== undefined && mode === 'json_schema') responseFormat = zodResponseFormat(format.schema as never, format.name);
    else if (format !== undefined && mode === 'json_object') {
      // OpenAI-compatible servers read a `schema` beside `json_object` (llama.cpp's server and
      // llama-cpp-python turn it into a grammar, vLLM and Ollama ignore it): the reply then matches
      // the schema, not only JSON. OpenAI's own API gets plain JSON mode.
      responseFormat =
        provider === 'openai'
          ? { type: 'json_object' }
          : ({ type: 'json_object', schema: z.toJSONSchema(format.schema) } as unknown as OpenAI.ResponseFormatJSONObject);
    }
    const messages = format !== undefined && mode !== 'json_schema' ? withSchemaInstruction(request.messages, format) : request.messages;
    try {
      return await client.chat.completions.create(
        {
          model: settings.model,
          messages: messages.map((m): OpenAI.ChatCompletionMessageParam => ({ role: m.role, content: m.content })),
          temperature: request.temperature ?? 0,
          ...(request.maxOutputTokens === undefined ? {} : { max_completion_tokens: request.maxOutputTokens }),
          ...(responseFormat === undefined ? {} : { response_format: responseFormat }),
        },
        signal === undefined ? {} : { signal },
      );
    } catch (error) {
      throw toJudgeCallError(provider, error, httpErrors, apiKey);
    }
  };
  return {
    provider,
    modelId: settings.model,
    ...(settings.baseURL === undefined ? {} : { endpoint: settings.baseURL }),
    structuredOutputs: () => negotiator.report(),
    async complete(request: JudgeRequest, options = {}): Promise<JudgeCompletion> {
      const raw =
        request.responseFormat === undefined
          ? await send(request, undefined, options.signal)
          : await negotiator.run((mode) => send(request, mode, options.signal));
      const parsed = ChatCompletionSchema.safeParse(raw);
      if (!parsed.success) {
        throw new JudgeCallError({
          provider,
          kind: 'invalid-response',
          message: `unexpected chat-completions body: ${oneLine(parsed.error.message)}`,
        });
      }
      const choice = parsed.data.choices[0];
      const text = choice?.message.content ?? '';
      if (text === '' && choice?.message.refusal) {
        throw new JudgeCallError({ provider, kind: 'invalid-response', message: `model refused: ${oneLine(choice.message.refusal)}` });
      }
      return {
        text,
        usage: { inputTokens: parsed.data.usage?.prompt_tokens ?? 0, outputTokens: parsed.data.usage?.completion_tokens ?? 0 },
      };
    },
  };
}

function toJudgeCallError(provider: string, error: unknown, httpErrors: WeakMap<object, JudgeCallError>, apiKey: string): JudgeCallError {
  if (error instanceof APIConnectionTimeoutError)
    return new JudgeCallError({ provider, kind: 'timeout', message: error.message, cause: error });
  if (error instanceof APIConnectionError)
    return new JudgeCallError({ provider, kind: 'network', message: oneLine(connectionMessage(error), apiKey), cause: error });
  if (error instanceof APIError && error.status !== undefined) {
    const built = error.headers === undefined ? undefined : httpErrors.get(error.headers);
    if (built !== undefined) return built;
    const message = oneLine(error.message, apiKey);
    return new JudgeCallError({ provider, kind: httpErrorKind(error.status, message), status: error.status, message, cause: error });
  }
  if (error instanceof SyntaxError)
    return new JudgeCallError({ provider, kind: 'invalid-response', message: `malformed response body: ${error.message}`, cause: error });
  if (error instanceof Error && error.name === 'AbortError')
    return new JudgeCallError({ provider, kind: 'timeout', message: error.message, cause: error });
  const message = oneLine(error instanceof Error ? error.message : String(error), apiKey);
  return new JudgeCallError({ provider, kind: 'network', message, cause: error });
}

/** `Connection error.` plus the reason underneath (ECONNRESET, ECONNREFUSED), which the SDK leaves in `cause`. */
function connectionMessage(error: Error): string {
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const root = cause?.cause instanceof Error ? cause.cause : cause;
  return root === undefined ? error.message : `${error.message} (${root.message})`;
}
