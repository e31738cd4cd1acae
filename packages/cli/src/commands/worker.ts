import type { Command } from 'commander';
import type { PreparedEval } from '@lora/queue';
import type { Recipe } from '@lora/recipe';
import type { CliIo } from '../io.js';
import { integer } from '../options.js';

/** Parsed options of `lora worker`. */
export interface WorkerCliOptions {
  /** `redis://host:port` of the queue. */
  queue: string;
  /** Name in the coordinator's per-worker throughput (default `<hostname>:<pid>`). */
  name?: string;
  /** Shard lock lifetime in ms: a killed worker's shard is retried elsewhere after about this long. */
  lockMs?: number;
  /** Judge calls in flight on this worker. */
  judgeConcurrency?: number;
  /** The judge queue's rate limit across all workers, calls per minute. */
  judgeRpm?: number;
}

/**
 * Registers `lora worker --queue redis://host:port`: takes evaluation shards that `lora eval
 * --queue` enqueued (BullMQ), loads each run's model and adapters once and keeps them while its
 * shards keep coming, and sends the predictions back; also makes the judge calls of `lora judge
 * --queue` with the key of its own environment (`OPENAI_API_KEY`, `GEMINI_API_KEY`), under one
 * rate limit shared by all workers (`--judge-rpm`). Runs until SIGINT / SIGTERM (finishing the
 * shard in progress); a worker killed outright loses nothing: its shard goes back to the queue.
 *
 * @example
 * ```sh
 * lora worker --queue redis://10.0.0.5:6379
 * ```
 */
export function registerWorker(program: Command, io: CliIo): void {
  program
    .command('worker')
    .description('Process `lora eval --queue` shards and `lora judge --queue` calls from Redis (BullMQ) until stopped.')
    .requiredOption('--queue <url>', 'redis://host:port of the queue')
    .option('--name <name>', "name in the coordinator's per-worker throughput (default host:pid)")
    .option('--judge-concurrency <n>', 'judge calls in flight on this worker (default 4)', integer(1))
    .option('--judge-rpm <n>', 'judge calls per minute across all workers (BullMQ limiter; give every worker the same)', integer(1))
    .option('--lock-ms <n>', "shard lock lifetime: a dead worker's shard is retried after about this long (default 30000)", integer(1000))
    .action(async (options: WorkerCliOptions) => {
      const { runEvalWorker, runJudgeWorker } = await import('@lora/queue');
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      io.writeErr(`[lora] worker on ${redactUrl(options.queue)}: waiting for shards (Ctrl-C stops)\n`);
      try {
        const judge = runJudgeWorker({
          url: options.queue,
          env: io.env,
          ...(options.name === undefined ? {} : { name: options.name }),
          ...(options.judgeConcurrency === undefined ? {} : { concurrency: options.judgeConcurrency }),
          ...(options.judgeRpm === undefined ? {} : { rateLimit: { max: options.judgeRpm } }),
          signal: stop.signal,
          onError: (error) => io.writeErr(`[lora] judge worker: ${error.message}\n`),
        });
        await runEvalWorker({
          url: options.queue,
          prepare: async (spec) => {
            const t0 = performance.now();
            const prepared = await prepareQueuedEval(spec, io);
            io.writeErr(`[lora] prepared the run's model in ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
            return prepared;
          },
          ...(options.name === undefined ? {} : { name: options.name }),
          ...(options.lockMs === undefined ? {} : { lockMs: options.lockMs }),
          signal: stop.signal,
          onError: (error) => io.writeErr(`[lora] worker: ${error.message}\n`),
          onShard: (job, result) =>
            io.writeErr(
              `[lora] shard ${job.variant} ${job.start}–${job.end - 1}: ${result.records.length} predictions in ${(result.ms / 1000).toFixed(3)} s\n`,
            ),
        });
        await judge;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      io.writeErr('[lora] worker stopped\n');
    });
}

/** The URL without its password, for logs. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * A `lora worker`'s `prepare`: rebuilds a queued run's evaluation from its spec exactly as
 * `lora eval` does locally (recipe model, quantization, chat template render, adapters).
 */
async function prepareQueuedEval(spec: unknown, io: CliIo): Promise<PreparedEval> {
  const { prepareModel } = await import('@lora/recipe');
  const { promptRowsFromChats } = await import('@lora/eval/internal');
  const { prepareEval } = await import('@lora/eval/internal');
  const { parseJson } = await import('@lora/core');
  const { readTestRows } = await import('./eval.js');
  const { EvalSpecSchema, recipeEvalOptions } = await import('./queue-eval.js');
  const s = parseJson(JSON.stringify(spec), EvalSpecSchema, { file: 'queue job spec' });
  const recipe = s.recipe as unknown as Recipe;
  const rows = await readTestRows(s.testFile);
  // As `lora eval`: the adapters are attached by the evaluation, which names each run after its folder.
  const { loaded, model, tokenizer, render } = await prepareModel(recipe, {
    env: io.env,
    log: (line) => io.writeErr(`${line}\n`),
    kind: 'inference',
    adapter: 'none',
  });
  try {
    const options = await prepareEval({
      ...recipeEvalOptions(recipe, s.adapters),
      model,
      tokenizer,
      examples: promptRowsFromChats(s.limit === undefined ? rows : rows.slice(0, s.limit), render),
      outDir: 'unused-by-workers',
    });
    return { options, dispose: () => loaded.model.dispose() };
  } catch (error) {
    loaded.model.dispose();
    throw error;
  }
}
