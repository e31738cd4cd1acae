import { resolve } from 'node:path';
import type { RunEvalOptions } from '@lora/eval';
import type { QueueProgress } from '@lora/queue';
import type { Recipe } from '@lora/recipe';
import { z } from 'zod';
import { type CliIo, progressOf } from '../io.js';

/**
 * What a `lora worker` needs to rebuild a `lora eval --queue` run: the resolved recipe (absolute
 * paths), the test file and adapter folders (absolute: workers read them at the same paths, from
 * shared storage or the same checkout), and the limit. Stored in Redis: it holds no secret.
 */
export const EvalSpecSchema = z.object({
  kind: z.literal('lora-eval'),
  recipe: z.record(z.string(), z.unknown()),
  testFile: z.string(),
  adapters: z.array(z.string()),
  limit: z.number().int().positive().optional(),
});
/** A queued run's spec. */
export type EvalSpec = z.output<typeof EvalSpecSchema>;

/** Options of {@link queuedEval}: what `lora eval` resolved before loading a model. */
export interface QueuedEvalCliOptions {
  io: CliIo;
  recipe: Recipe;
  testFile: string;
  /** Records in the test file. */
  rows: number;
  limit: number | undefined;
  /** Adapter folders as given (stored as given in the metrics files' `meta`, as a local run does). */
  adapters: readonly string[];
  outDir: string;
  queue: string;
  shardSize: number | undefined;
}

/** The part of `runEval`'s options that comes from the recipe alone (no model, no examples): shared by the coordinator and the workers. */
export function recipeEvalOptions(recipe: Recipe, adapters: readonly string[]) {
  const evaluation = recipe.evaluation;
  return {
    metrics: (evaluation?.metrics ?? ['exact_match']) as RunEvalOptions['metrics'],
    adapters: adapters.map((dir) => ({ dir })),
    generation: { maxNewTokens: evaluation?.maxNewTokens ?? 64, temperature: evaluation?.temperature ?? 0 },
    batchSize: evaluation?.batchSize ?? 4,
    ...(evaluation?.aliases === undefined ? {} : { aliases: evaluation.aliases }),
    ...(recipe.data.addBos === undefined ? {} : { addBos: recipe.data.addBos }),
  };
}

/**
 * `lora eval --queue`: enqueues the evaluation's shards and waits while workers generate them,
 * showing done/total, ETA and per-worker throughput; then writes the report as a local run.
 */
export async function queuedEval(options: QueuedEvalCliOptions): Promise<void> {
  const { runQueuedEval } = await import('@lora/queue');
  const { evalVariantNames, evalMeta, resolveMetrics, aliasNormalizer } = await import('@lora/eval/internal');
  const { io, recipe } = options;
  const base = recipeEvalOptions(recipe, options.adapters);
  const total = options.limit === undefined ? options.rows : Math.min(options.limit, options.rows);
  const spec: EvalSpec = {
    kind: 'lora-eval',
    recipe: { ...recipe },
    testFile: resolve(options.testFile),
    adapters: options.adapters.map((a) => resolve(a)),
    ...(options.limit === undefined ? {} : { limit: options.limit }),
  };
  const progress = progressOf(io);
  const result = await runQueuedEval({
    url: options.queue,
    spec,
    variants: evalVariantNames(base),
    total,
    shardSize: options.shardSize ?? base.batchSize * 4,
    batchSize: base.batchSize,
    score: {
      ...base.generation,
      outDir: options.outDir,
      metrics: resolveMetrics(base.metrics),
      ...(base.aliases === undefined ? {} : { normalize: aliasNormalizer(base.aliases) }),
      meta: evalMeta({ model: 'in-memory', adapters: base.adapters }),
    },
    onProgress: (p) => progress.update(p.done, p.total, progressText(p)),
  });
  for (const run of result.runs) io.writeErr(`[lora] ${run.run}: ${run.count} predictions (merged from the queue)\n`);
  const { readFile } = await import('node:fs/promises');
  io.writeOut(await readFile(result.files.summary, 'utf8'));
  io.writeErr(`[lora] wrote ${result.outDir}\n`);
}

/** `[lora] queue: 32/96 examples, 2/6 shards, ETA 12 s | host:1 4.1 ex/s (2 shards) | …`. */
function progressText(p: QueueProgress): string {
  const eta = p.etaMs === undefined ? '' : `, ETA ${(p.etaMs / 1000).toFixed(0)} s`;
  const resumed = p.resumed > 0 ? `, ${p.resumed} resumed` : '';
  const workers = p.workers.map((w) => ` | ${w.worker} ${w.perSecond.toFixed(2)} ex/s (${w.shards} shards)`).join('');
  return `[lora] queue: ${p.done}/${p.total} examples, ${p.shardsDone}/${p.shards} shards${resumed}${eta}${workers}`;
}
