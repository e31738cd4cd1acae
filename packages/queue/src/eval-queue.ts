import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, LoraError, type LoraErrorOptions } from '@lora/core';
import type { EvalResult, EvaluateVariantsOptions, RunMetrics, GenerationStats } from '@lora/eval';
import {
  type PredictionRecord,
  REPORT_FILES,
  readPredictions,
  readRuns,
  writeComparison,
  PredictionRecordSchema,
  type ScoreVariantOptions,
  generateVariant,
  scoreVariant,
  summarizeLatency,
} from '@lora/eval/internal';
import { type ConnectionOptions, Job, Queue, Worker } from 'bullmq';
import { z } from 'zod';
import { redisConnection, runUntilAborted } from './connection.js';

/** The BullMQ queue that carries evaluation shards. */
export const EVAL_QUEUE = 'lora-eval';

/**
 * One shard: examples `[start, end)` of the test set, for one variant. `spec` is whatever the
 * worker's `prepare` needs to rebuild the evaluation (the CLI sends the resolved recipe, test file
 * and adapter folders); it must hold no secret, since it is stored in Redis.
 */
export const ShardJobSchema = z.object({
  run: z.string(),
  spec: z.unknown(),
  variant: z.string(),
  shard: z.number().int().nonnegative(),
  start: z.number().int().nonnegative(),
  end: z.number().int().positive(),
});

/** A shard job's data. */
export type ShardJob = z.output<typeof ShardJobSchema>;

/** What a worker sends back for a shard: its predictions in test-set order and what it measured. */
export const ShardResultSchema = z.object({
  worker: z.string(),
  records: z.array(PredictionRecordSchema),
  /** Wall time of the shard on the worker (model cached), ms. */
  ms: z.number(),
  newTokens: z.number().int(),
  tokensPerSecond: z.number(),
  peakTensorBytes: z.number(),
});

/** A shard's result. */
export type ShardResult = z.output<typeof ShardResultSchema>;

/** Progress of a queued evaluation, reported by the coordinator after each poll that saw a change. */
export interface QueueProgress {
  /** Examples (variant × test example) whose shard is done. */
  done: number;
  total: number;
  shardsDone: number;
  shards: number;
  /** Done before this coordinator started (a resumed run). */
  resumed: number;
  /** Estimated time left from this coordinator's rate, ms; undefined before the first shard. */
  etaMs: number | undefined;
  elapsedMs: number;
  /** Per worker: examples done and examples per second of its own shard time. */
  workers: { worker: string; examples: number; shards: number; perSecond: number }[];
}

const errorName = 'QueueShardError';
const errorSymbol = Symbol.for(`lora.error.${errorName}`);

/** A shard that failed on every attempt, or a worker result that does not fit its shard. */
export class QueueShardError extends LoraError {
  readonly [errorSymbol] = true;

  constructor(message: string, options: LoraErrorOptions = {}) {
    super(message, options);
    this.name = errorName;
  }

  /** True when `error` is a {@link QueueShardError}. */
  static override isInstance(error: unknown): error is QueueShardError {
    return LoraError.hasMarker(error, `lora.error.${errorName}`);
  }
}

/** The job id of a shard: stable for a run, so a restarted coordinator finds its jobs again. */
function jobId(run: string, variantIndex: number, shard: number): string {
  return `${run}-v${variantIndex}-s${shard}`;
}

/**
 * The coordinator of a queued evaluation: enqueues one BullMQ job per variant × shard (ids derived
 * from a hash of the spec, so a restarted coordinator re-adds nothing and collects what is done),
 * waits while `lora worker`s process them, then writes `predictions_<variant>.jsonl` in test-set
 * order, scores each variant with `scoreVariant` and writes the comparison, as `runEval` does in
 * one process.
 *
 * @example
 * ```ts
 * await runQueuedEval({ url: 'redis://127.0.0.1:6379', spec, variants: ['base', 'carbot'], total: 48, shardSize: 16, batchSize: 16,
 *   score: { outDir: 'runs/eval', metrics: [{ kind: 'exact_match' }] } });
 * ```
 */
export async function runQueuedEval(options: {
  /** `redis://host:port`. */
  url: string;
  /** Opaque description the workers' `prepare` rebuilds the evaluation from (no secrets: stored in Redis). */
  spec: unknown;
  /** Variant names to evaluate, in report order (`evalVariantNames`). */
  variants: readonly string[];
  /** Number of test examples (after `limit`). */
  total: number;
  /** Examples per shard; a multiple of `batchSize` so shards cut the same batches as one process. */
  shardSize: number;
  batchSize: number;
  /** Scoring: the report folder, metrics, normaliser, generation settings and meta of the local run. */
  score: Omit<ScoreVariantOptions, 'examples'>;
  onProgress?: (progress: QueueProgress) => void;
  /** Poll period, ms. Default 250. */
  pollMs?: number;
  /** Attempts per shard before the run fails (a stalled shard counts separately, see the worker). Default 3. */
  attempts?: number;
  /** Remove the run's jobs from Redis once the report is written. Default true. */
  cleanup?: boolean;
  /** How long to wait for Redis at the start before failing, ms. Default 10000. */
  connectTimeoutMs?: number;
}): Promise<EvalResult> {
  const { shardSize, batchSize, total } = options;
  if (!Number.isInteger(shardSize) || shardSize < 1 || shardSize % batchSize !== 0)
    throw new InvalidArgumentError({
      argument: '--shard-size',
      message: `must be a positive multiple of the evaluation batch size (${batchSize}), got ${shardSize}: a shard must cut the same batches as one process for identical predictions.`,
    });
  const run = createHash('sha256')
    .update(JSON.stringify({ spec: options.spec, variants: options.variants, total, shardSize }))
    .digest('hex')
    .slice(0, 16);
  const shardsPerVariant = Math.ceil(total / shardSize);
  const jobs = options.variants.flatMap((variant, v) =>
    Array.from({ length: shardsPerVariant }, (_, shard) => {
      const data: ShardJob = {
        run,
        spec: options.spec,
        variant,
        shard,
        start: shard * shardSize,
        end: Math.min(total, (shard + 1) * shardSize),
      };
      return { id: jobId(run, v, shard), variant: v, data };
    }),
  );
  const connection = redisConnection(options.url);
  const queue = new Queue(EVAL_QUEUE, { connection });
  try {
    await reachable(queue, connection, options.connectTimeoutMs ?? 10_000);
    const attempts = options.attempts ?? 3;
    await queue.addBulk(
      jobs.map((j) => ({
        name: 'shard',
        data: j.data,
        opts: { jobId: j.id, attempts, backoff: { type: 'fixed', delay: 500 }, removeOnComplete: false, removeOnFail: false },
      })),
    );
    const results = new Map<string, ShardResult>();
    const started = performance.now();
    let resumed: number | undefined;
    let lastDone = -1;
    const count = (d: ShardJob) => d.end - d.start;
    const grand = jobs.reduce((s, j) => s + count(j.data), 0);
    for (;;) {
      for (const j of jobs) {
        if (results.has(j.id)) continue;
        const job = await Job.fromId(queue, j.id);
        if (job === undefined)
          throw new QueueShardError(`shard ${j.id} vanished from Redis (queue "${EVAL_QUEUE}" emptied while running?).`);
        if (job.finishedOn !== undefined && job.returnvalue !== null && job.returnvalue !== undefined) {
          results.set(j.id, parseResult(job.returnvalue, j.data));
        } else if (job.finishedOn !== undefined && job.failedReason !== undefined && (await job.getState()) === 'failed') {
          if (resumed === undefined)
            await job.retry('failed'); // a restarted coordinator gives a failed shard new attempts
          else
            throw new QueueShardError(
              `shard ${j.id} (${j.data.variant}, examples ${j.data.start}–${j.data.end - 1}) failed ${job.attemptsMade} times: ${job.failedReason}`,
            );
        }
      }
      const done = jobs.filter((j) => results.has(j.id)).reduce((s, j) => s + count(j.data), 0);
      resumed ??= done;
      if (done !== lastDone) {
        lastDone = done;
        options.onProgress?.(progressOf(jobs, results, done, grand, resumed, performance.now() - started));
      }
      if (results.size === jobs.length) break;
      await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
    }
    mkdirSync(options.score.outDir, { recursive: true });
    const runs: RunMetrics[] = [];
    for (const [v, variant] of options.variants.entries()) {
      const shards = jobs.filter((j) => j.variant === v).map((j) => results.get(j.id) as ShardResult);
      const records = shards.flatMap((s) => s.records);
      const ids = new Set(records.map((r) => r.id));
      if (ids.size !== records.length) throw new QueueShardError(`variant ${variant}: the shards' predictions repeat an id.`);
      writeFileSync(join(options.score.outDir, REPORT_FILES.predictions(variant)), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      runs.push(
        await scoreVariant(
          { ...options.score, examples: records },
          { name: variant },
          mergedStats(shards, records, performance.now() - started),
        ),
      );
    }
    const result: EvalResult = {
      runs,
      files: writeComparison(options.score.outDir, readRuns(options.score.outDir)),
      outDir: options.score.outDir,
    };
    if (options.cleanup ?? true) for (const j of jobs) await (await Job.fromId(queue, j.id))?.remove();
    return result;
  } finally {
    await queue.close();
  }
}

/** Waits for Redis; past `ms`, an {@link InvalidArgumentError} naming `--queue` and the address. */
async function reachable(queue: Queue, connection: ConnectionOptions, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const { host, port } = connection as { host?: string; port?: number };
      reject(new InvalidArgumentError({ argument: '--queue', message: `cannot reach Redis at ${host}:${port} within ${ms / 1000} s.` }));
    }, ms);
  });
  try {
    await Promise.race([queue.waitUntilReady(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function parseResult(value: unknown, job: ShardJob): ShardResult {
  const parsed = ShardResultSchema.safeParse(value);
  if (!parsed.success)
    throw new QueueShardError(`shard ${job.variant}#${job.shard}: the worker's result is malformed: ${parsed.error.message}`);
  if (parsed.data.records.length !== job.end - job.start)
    throw new QueueShardError(
      `shard ${job.variant}#${job.shard}: expected ${job.end - job.start} predictions, the worker sent ${parsed.data.records.length}.`,
    );
  return parsed.data;
}

function progressOf(
  jobs: readonly { id: string; data: ShardJob }[],
  results: ReadonlyMap<string, ShardResult>,
  done: number,
  total: number,
  resumed: number,
  elapsedMs: number,
): QueueProgress {
  const workers = new Map<string, { examples: number; shards: number; ms: number }>();
  for (const j of jobs) {
    const r = results.get(j.id);
    if (r === undefined) continue;
    const w = workers.get(r.worker) ?? { examples: 0, shards: 0, ms: 0 };
    w.examples += r.records.length;
    w.shards++;
    w.ms += r.ms;
    workers.set(r.worker, w);
  }
  const fresh = done - resumed;
  return {
    done,
    total,
    shardsDone: results.size,
    shards: jobs.length,
    resumed,
    etaMs: fresh > 0 ? ((total - done) * elapsedMs) / fresh : undefined,
    elapsedMs,
    workers: [...workers].map(([worker, w]) => ({
      worker,
      examples: w.examples,
      shards: w.shards,
      perSecond: w.ms > 0 ? w.examples / (w.ms / 1000) : 0,
    })),
  };
}

/** Run facts over the merged shards (latency is recomputed over every line by `scoreVariant`). */
function mergedStats(shards: readonly ShardResult[], records: readonly PredictionRecord[], wallMs: number): GenerationStats {
  const newTokens = shards.reduce((s, r) => s + r.newTokens, 0);
  const genSeconds = shards.reduce((s, r) => s + (r.tokensPerSecond > 0 ? r.newTokens / r.tokensPerSecond : 0), 0);
  return {
    total: records.length,
    generated: records.length,
    resumed: 0,
    latencyMs: summarizeLatency([]),
    tokensPerSecond: genSeconds === 0 ? 0 : newTokens / genSeconds,
    newTokens,
    wallMs,
    peakTensorBytes: Math.max(0, ...shards.map((s) => s.peakTensorBytes)),
  };
}

/** A prepared evaluation a worker keeps while shards of its run keep coming. */
export interface PreparedEval {
  options: EvaluateVariantsOptions;
  /** Frees the model when the worker moves to another run or stops. */
  dispose?: () => void;
}

/**
 * A worker of queued evaluations: takes shards from Redis one at a time, prepares each run's model
 * once (cached while the run's shards keep coming), generates the shard with `generateVariant`
 * into a temporary file and sends the predictions back as the job's result. Resolves when `signal`
 * aborts and the shard in progress is done.
 *
 * @example
 * ```ts
 * await runEvalWorker({ url: 'redis://127.0.0.1:6379', prepare: async (spec) => ({ options: await prepareEval(toRunEvalOptions(spec)) }) });
 * ```
 */
export async function runEvalWorker(options: {
  url: string;
  /** Rebuilds the evaluation of a job's `spec` (loads the model and adapters once; the worker caches it per run). */
  prepare: (spec: unknown) => Promise<PreparedEval>;
  /** Name in the coordinator's per-worker throughput. Default `<hostname>:<pid>`. */
  name?: string;
  /**
   * How long a shard's lock lives without renewal, ms: a worker killed mid-shard gives the shard
   * back to the queue (BullMQ's stalled-job check by the other workers) after about this long. Default 30000.
   */
  lockMs?: number;
  /** Times a shard may stall (its worker died) before it fails. Default 5. */
  maxStalled?: number;
  /** Called after each shard with what it did. */
  onShard?: (job: ShardJob, result: ShardResult) => void;
  /** Called with Redis / BullMQ errors the worker survives (ioredis reconnects). */
  onError?: (error: Error) => void;
  /** Stops the worker (after the shard in progress). */
  signal?: AbortSignal;
}): Promise<void> {
  const name = options.name ?? `${hostname()}:${process.pid}`;
  let cached: { run: string; prepared: PreparedEval } | undefined;
  const worker = new Worker(
    EVAL_QUEUE,
    async (job: Job) => {
      const data = ShardJobSchema.parse(job.data);
      if (cached?.run !== data.run) {
        cached?.prepared.dispose?.();
        cached = undefined;
        cached = { run: data.run, prepared: await options.prepare(data.spec) };
      }
      const { options: evalOptions } = cached.prepared;
      const variant = (evalOptions.variants ?? [{ name: 'model' }]).find((v) => v.name === data.variant);
      if (variant === undefined) throw new QueueShardError(`the prepared evaluation has no variant "${data.variant}".`);
      const examples = evalOptions.examples.slice(data.start, data.end);
      if (examples.length !== data.end - data.start)
        throw new QueueShardError(
          `the test set has ${evalOptions.examples.length} examples; shard ${data.shard} wants ${data.start}–${data.end - 1}.`,
        );
      const dir = mkdtempSync(join(tmpdir(), 'lora-shard-'));
      try {
        const outFile = join(dir, 'predictions.jsonl');
        const t0 = performance.now();
        const { onProgress: _, ...quiet } = evalOptions;
        const stats = await generateVariant(quiet, variant, { examples, outFile });
        const result: ShardResult = {
          worker: name,
          records: readPredictions(outFile),
          ms: performance.now() - t0,
          newTokens: stats.newTokens,
          tokensPerSecond: stats.tokensPerSecond,
          peakTensorBytes: stats.peakTensorBytes,
        };
        options.onShard?.(data, result);
        return result;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    {
      connection: redisConnection(options.url),
      name,
      concurrency: 1,
      lockDuration: options.lockMs ?? 30_000,
      stalledInterval: Math.max(1000, Math.round((options.lockMs ?? 30_000) / 2)),
      maxStalledCount: options.maxStalled ?? 5,
    },
  );
  try {
    await runUntilAborted(worker, options);
  } finally {
    cached?.prepared.dispose?.();
  }
}
