import { hostname } from 'node:os';
import { InvalidArgumentError } from '@lora/core';
import {
  type JudgeCallErrorKind,
  type JudgeCompletion,
  type JudgeModel,
  type JudgeProviderName,
  type JudgeRequest,
  JudgeCallError,
  createJudgeModel,
} from '@lora/judge';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { z } from 'zod';
import { redisConnection, runUntilAborted } from './connection.js';

/** The BullMQ queue that carries judge calls. */
export const JUDGE_QUEUE = 'lora-judge';

/**
 * Which judge a call goes to: provider, model and base URL, never a key. A worker builds the
 * provider with its own key from its own environment (`OPENAI_API_KEY`, `GEMINI_API_KEY`).
 */
export const JudgeTargetSchema = z.object({
  provider: z.enum(['openai', 'gemini', 'openai-compatible']),
  model: z.string(),
  baseUrl: z.string().optional(),
  structuredOutputs: z.enum(['auto', 'json_schema', 'json_object', 'none']).optional(),
  timeoutMs: z.number().int().positive().optional(),
});

/** A judge call's target. */
export type JudgeTarget = z.output<typeof JudgeTargetSchema>;

const JudgeJobSchema = z.object({
  target: JudgeTargetSchema,
  request: z.object({
    messages: z.array(z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string() })),
    temperature: z.number().optional(),
    maxOutputTokens: z.number().int().optional(),
    /** The response schema as JSON Schema (zod schemas do not cross the wire). */
    responseFormat: z.object({ name: z.string(), jsonSchema: z.record(z.string(), z.unknown()) }).optional(),
  }),
});

const JudgeOutcomeSchema = z.union([
  z.object({
    ok: z.literal(true),
    text: z.string(),
    usage: z.object({ inputTokens: z.number(), outputTokens: z.number() }),
    worker: z.string(),
  }),
  z.object({
    ok: z.literal(false),
    kind: z.string(),
    message: z.string(),
    status: z.number().optional(),
    retryAfterMs: z.number().optional(),
    retryable: z.boolean(),
    worker: z.string(),
  }),
]);

/** A {@link queuedJudgeModel}: a `JudgeModel` plus `close()`. */
export interface QueuedJudgeModel extends JudgeModel {
  /** Closes the Redis connections. */
  close(): Promise<void>;
}

/**
 * A `JudgeModel` whose calls run on `lora worker`s through Redis: each `complete` is one BullMQ
 * job, answered by whichever worker takes it, under the queue's one rate limit (the workers'
 * BullMQ limiter). Wrap it in `JudgeClient` as any model: the answer cache, retries and the
 * budget stay in this process, so every call of the run passes one budget and a cached answer is
 * never paid again. `provider`, `modelId` and `endpoint` are the direct model's, so the cache is
 * shared with runs that call the provider directly. A provider error comes back as the same
 * `JudgeCallError` kind, so retries and auth stops behave as in one process.
 *
 * @example
 * ```ts
 * const model = queuedJudgeModel('redis://10.0.0.5:6379', { provider: 'openai', model: 'gpt-4o-mini' });
 * const client = new JudgeClient(model, { cacheDir: '.judge-cache', maxCalls: 500 });
 * ```
 */
export function queuedJudgeModel(url: string, target: JudgeTarget): QueuedJudgeModel {
  const parsed = JudgeTargetSchema.parse(target);
  const connection = redisConnection(url);
  const queue = new Queue(JUDGE_QUEUE, { connection });
  const events = new QueueEvents(JUDGE_QUEUE, { connection });
  const ready = events.waitUntilReady();
  return {
    provider: parsed.provider,
    modelId: parsed.model,
    ...(parsed.baseUrl === undefined ? {} : { endpoint: parsed.baseUrl }),
    async complete(request: JudgeRequest): Promise<JudgeCompletion> {
      await ready;
      const data: z.input<typeof JudgeJobSchema> = {
        target: parsed,
        request: {
          messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
          ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
          ...(request.maxOutputTokens === undefined ? {} : { maxOutputTokens: request.maxOutputTokens }),
          ...(request.responseFormat === undefined
            ? {}
            : {
                responseFormat: {
                  name: request.responseFormat.name,
                  jsonSchema: z.toJSONSchema(request.responseFormat.schema) as Record<string, unknown>,
                },
              }),
        },
      };
      // One attempt per job: JudgeClient decides about retries, as for a direct provider.
      const job = await queue.add('call', data, { attempts: 1, removeOnComplete: { age: 600 }, removeOnFail: { age: 600 } });
      const outcome = JudgeOutcomeSchema.parse(await job.waitUntilFinished(events));
      if (outcome.ok) return { text: outcome.text, usage: outcome.usage };
      throw new JudgeCallError({
        provider: parsed.provider,
        kind: outcome.kind as JudgeCallErrorKind,
        message: `${outcome.message} (on worker ${outcome.worker})`,
        ...(outcome.status === undefined ? {} : { status: outcome.status }),
        ...(outcome.retryAfterMs === undefined ? {} : { retryAfterMs: outcome.retryAfterMs }),
        retryable: outcome.retryable,
      });
    },
    async close() {
      await events.close();
      await queue.close();
    },
  };
}

/**
 * A worker of queued judge calls: builds each target's provider once with the key from its own
 * environment, makes the call and sends back the text and usage (or the error's kind). The
 * queue-wide rate limit is BullMQ's limiter (`rateLimit`). Resolves when `signal` aborts.
 */
export async function runJudgeWorker(options: {
  url: string;
  /** Environment the providers read their key from (never sent anywhere but to the provider). Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Name reported with each answer. Default `<hostname>:<pid>`. */
  name?: string;
  /** Calls in flight on this worker. Default 4. */
  concurrency?: number;
  /**
   * The queue's rate limit, shared by every worker (BullMQ's limiter, kept in Redis): at most
   * `max` calls start per `durationMs` (default 60 000) across all workers. Give every worker the same.
   */
  rateLimit?: { max: number; durationMs?: number };
  /** Builds a provider (default `createJudgeModel` of `@lora/judge`); for local providers in tests. */
  createModel?: (target: JudgeTarget, env: Readonly<Record<string, string | undefined>>) => JudgeModel;
  /** Called after each call. */
  onCall?: (target: JudgeTarget, ok: boolean) => void;
  /** Called with Redis / BullMQ errors the worker survives (ioredis reconnects). */
  onError?: (error: Error) => void;
  /** Stops the worker (after the calls in flight). */
  signal?: AbortSignal;
}): Promise<void> {
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const env = options.env ?? process.env;
  const models = new Map<string, JudgeModel>();
  const create =
    options.createModel ??
    ((t: JudgeTarget, e: Readonly<Record<string, string | undefined>>) => {
      const key = t.provider === 'gemini' ? (e.GEMINI_API_KEY ?? e.GOOGLE_API_KEY) : e.OPENAI_API_KEY;
      return createJudgeModel({
        provider: t.provider as JudgeProviderName,
        model: t.model,
        ...(t.baseUrl === undefined ? {} : { baseUrl: t.baseUrl }),
        ...(t.structuredOutputs === undefined ? {} : { structuredOutputs: t.structuredOutputs }),
        ...(t.timeoutMs === undefined ? {} : { timeoutMs: t.timeoutMs }),
        ...(key === undefined ? {} : { apiKey: key }),
      });
    });
  const limit = options.rateLimit;
  if (limit !== undefined && (!Number.isInteger(limit.max) || limit.max < 1))
    throw new InvalidArgumentError({ argument: 'rateLimit.max', message: `must be a positive integer, got ${limit.max}.` });
  const worker = new Worker(
    JUDGE_QUEUE,
    async (job) => {
      const { target, request } = JudgeJobSchema.parse(job.data);
      const id = JSON.stringify(target);
      let model = models.get(id);
      if (model === undefined) {
        model = create(target, env);
        models.set(id, model);
      }
      try {
        const completion = await model.complete({
          messages: request.messages,
          ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
          ...(request.maxOutputTokens === undefined ? {} : { maxOutputTokens: request.maxOutputTokens }),
          ...(request.responseFormat === undefined
            ? {}
            : {
                responseFormat: { name: request.responseFormat.name, schema: z.fromJSONSchema(request.responseFormat.jsonSchema as never) },
              }),
        });
        options.onCall?.(target, true);
        return { ok: true, text: completion.text, usage: completion.usage, worker: name };
      } catch (error) {
        options.onCall?.(target, false);
        if (!JudgeCallError.isInstance(error)) throw error;
        return {
          ok: false,
          kind: error.kind,
          message: error.detail,
          ...(error.status === undefined ? {} : { status: error.status }),
          ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
          retryable: error.retryable,
          worker: name,
        };
      }
    },
    {
      connection: redisConnection(options.url),
      name,
      concurrency: options.concurrency ?? 4,
      ...(limit === undefined ? {} : { limiter: { max: limit.max, duration: limit.durationMs ?? 60_000 } }),
    },
  );
  await runUntilAborted(worker, options);
}
