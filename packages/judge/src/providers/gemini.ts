import { GoogleGenAI } from '@google/genai';
import { z } from 'zod';
import { JudgeCallError } from '../errors/judge-call-error.js';
import { loadApiKey } from '../load-api-key.js';
import type { JudgeCompletion, JudgeModel, JudgeRequest } from '../model.js';
import { httpError, oneLine } from '../runtime/http-error.js';

const GenerateContentSchema = z.object({
  candidates: z
    .array(
      z.object({
        content: z.object({ parts: z.array(z.object({ text: z.string().optional() })).optional() }).optional(),
        finishReason: z.string().optional(),
      }),
    )
    .min(1),
  usageMetadata: z.object({ promptTokenCount: z.number().optional(), candidatesTokenCount: z.number().optional() }).optional(),
});

/**
 * A {@link JudgeModel} on Gemini `generateContent` through `@google/genai`, with JSON output
 * (`responseMimeType: application/json` and a `responseSchema` built from the zod schema). The
 * SDK's own retries are off: {@link JudgeClient} retries, honouring `Retry-After`.
 *
 * @example
 * ```ts
 * const judge = createGeminiJudge({ model: 'gemini-2.5-flash' }); // GEMINI_API_KEY from env
 * ```
 */
export function createGeminiJudge(settings: {
  /** Model id, e.g. `gemini-2.5-flash`. */
  model: string;
  /** API key; defaults to env `GEMINI_API_KEY`, then `GOOGLE_API_KEY`. Never logged. */
  apiKey?: string;
  /** Base URL (`httpOptions.baseUrl`), e.g. a loopback test server. Defaults to Google's endpoint. */
  baseUrl?: string;
  /** API version path segment (default `v1beta`). */
  apiVersion?: string;
  /** Custom fetch. Defaults to the global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Per-attempt timeout in milliseconds (default 60 000). */
  timeoutMs?: number;
}): JudgeModel {
  const provider = 'gemini';
  const apiKey = loadApiKey({
    apiKey: settings.apiKey,
    environmentVariableNames: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'],
    description: 'Gemini',
  });
  const baseFetch = settings.fetch ?? globalThis.fetch;
  // Turns HTTP failures into JudgeCallError here, where the headers (Retry-After) are still visible.
  const fetchWithErrors: typeof globalThis.fetch = async (input, init) => {
    let response: Response;
    try {
      response = await baseFetch(input, init);
    } catch (error) {
      const aborted =
        init?.signal?.aborted === true || (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError'));
      throw new JudgeCallError({
        provider,
        kind: aborted ? 'timeout' : 'network',
        message: error instanceof Error ? error.message : String(error),
        cause: error,
      });
    }
    if (response.ok) return response;
    throw await httpError(provider, response, apiKey);
  };
  const client = new GoogleGenAI({
    apiKey,
    httpOptions: {
      ...(settings.baseUrl === undefined ? {} : { baseUrl: settings.baseUrl }),
      ...(settings.apiVersion === undefined ? {} : { apiVersion: settings.apiVersion }),
      timeout: settings.timeoutMs ?? 60_000,
      fetch: fetchWithErrors,
    },
  });
  return {
    provider,
    modelId: settings.model,
    ...(settings.baseUrl === undefined ? {} : { endpoint: settings.baseUrl }),
    async complete(request: JudgeRequest, options = {}): Promise<JudgeCompletion> {
      const system = request.messages
        .filter((m) => m.role === 'system')
        .map((m) => m.content)
        .join('\n\n');
      const contents = request.messages
        .filter((m) => m.role !== 'system')
        .map((m) => ({ role: m.role === 'assistant' ? 'model' : 'user', parts: [{ text: m.content }] }));
      const format = request.responseFormat;
      let raw: unknown;
      try {
        raw = await client.models.generateContent({
          model: settings.model,
          contents,
          config: {
            ...(system === '' ? {} : { systemInstruction: system }),
            temperature: request.temperature ?? 0,
            ...(request.maxOutputTokens === undefined ? {} : { maxOutputTokens: request.maxOutputTokens }),
            ...(format === undefined ? {} : { responseMimeType: 'application/json', responseSchema: toGeminiSchema(format.schema) }),
            ...(options.signal === undefined ? {} : { abortSignal: options.signal }),
          },
        });
      } catch (error) {
        if (JudgeCallError.isInstance(error)) throw error;
        const kind = error instanceof SyntaxError ? 'invalid-response' : 'network';
        throw new JudgeCallError({ provider, kind, message: error instanceof Error ? error.message : String(error), cause: error });
      }
      const parsed = GenerateContentSchema.safeParse(raw);
      if (!parsed.success) {
        throw new JudgeCallError({
          provider,
          kind: 'invalid-response',
          message: `unexpected generateContent body: ${oneLine(parsed.error.message)}`,
        });
      }
      const parts = parsed.data.candidates[0]?.content?.parts ?? [];
      return {
        text: parts.map((p) => p.text ?? '').join(''),
        usage: {
          inputTokens: parsed.data.usageMetadata?.promptTokenCount ?? 0,
          outputTokens: parsed.data.usageMetadata?.candidatesTokenCount ?? 0,
        },
      };
    },
  };
}

/** JSON Schema of a zod schema without the keywords Gemini's `responseSchema` rejects. */
function toGeminiSchema(schema: z.ZodType): Record<string, unknown> {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === '$schema' || key === 'additionalProperties') continue;
      out[key] = strip(value);
    }
    return out;
  };
  return strip(z.toJSONSchema(schema)) as Record<string, unknown>;
}
