import { z } from 'zod';
import { JudgeCallError, type JudgeCallErrorKind } from '../errors/judge-call-error.js';
import { parseRetryAfter } from './retry-after.js';

/**
 * Error bodies servers send: OpenAI and llama-cpp-python `{error: {message}}`, llama.cpp server
 * `{error: {message, type}}`, vLLM `{message, type}`, Ollama `{error: "…"}`, FastAPI `{detail}`.
 */
const ErrorBodySchema = z.union([
  z.object({ error: z.object({ message: z.unknown() }) }),
  z.object({ error: z.string() }),
  z.object({ message: z.string() }),
  z.object({ detail: z.unknown() }),
]);

/** The server's own message from an error body (JSON or text), on one line, at most 300 characters. */
export function serverMessage(body: string, secret?: string): string {
  let message = body;
  try {
    const parsed = ErrorBodySchema.safeParse(JSON.parse(body));
    if (parsed.success) {
      const data = parsed.data;
      const raw =
        'error' in data
          ? typeof data.error === 'string'
            ? data.error
            : data.error.message
          : 'message' in data
            ? data.message
            : data.detail;
      message = typeof raw === 'string' ? raw : JSON.stringify(raw);
    }
  } catch {
    // not JSON: the text itself
  }
  return oneLine(message, secret);
}

/** Whitespace collapsed to single spaces, `secret` masked, cut to `max` characters. */
export function oneLine(text: string, secret?: string, max = 300): string {
  let out = text.replace(/\s+/g, ' ').trim();
  if (secret !== undefined && secret.length >= 4) out = out.split(secret).join('***');
  return out.length > max ? `${out.slice(0, max - 1)}…` : out;
}

/**
 * A request-validation error in a 5xx body: llama-cpp-python answers every invalid request with
 * HTTP 500 and pydantic's error list (`'loc': ('body', 'response_format', 'type')`), which no
 * retry can fix.
 */
export function isValidationMessage(message: string): boolean {
  return /validation error|['"]loc['"]\s*:\s*[([]|Input should be/i.test(message);
}

/** Whether a message is about the structured-output parameter (`response_format`, `json_schema`). */
export function namesResponseFormat(message: string): boolean {
  return /response_format|json_schema|json_object|structured output|guided_json|grammar/i.test(message);
}

/**
 * Classifies an HTTP failure: 429 rate limit; 408 timeout; 401/403 auth; 409 and 5xx server
 * errors (retryable) unless the body is a request-validation error; everything else client.
 */
export function httpErrorKind(status: number, message: string): JudgeCallErrorKind {
  if (status === 429) return 'rate-limit';
  if (status === 408) return 'timeout';
  if (status === 401 || status === 403) return 'auth';
  if (status === 409) return 'server';
  if (status >= 500) return isValidationMessage(message) ? 'client' : 'server';
  return 'client';
}

/** A {@link JudgeCallError} for a non-2xx response, with the server's message on one line and the key masked. */
export async function httpError(provider: string, response: Response, secret?: string): Promise<JudgeCallError> {
  const status = response.status;
  const retryAfterMs = parseRetryAfter(response.headers);
  const body = await response.text().catch(() => '');
  const message = serverMessage(body, secret) || `HTTP ${status} without a body`;
  return new JudgeCallError({
    provider,
    kind: httpErrorKind(status, message),
    status,
    message,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}
