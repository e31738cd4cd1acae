import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type CliIo, progressOf } from '../io.js';
import { type BackendChoice, backendOption, integer } from '../options.js';

/** Parsed options of `lora eval`. */
export interface EvalCliOptions {
  /** Adapter folders to compare with the base (repeatable); default the recipe's output folder if it holds one. */
  adapter: string[];
  /** Test file (overrides `evaluation.test`). */
  test?: string;
  /** Report folder (overrides `evaluation.output`). */
  out?: string;
  /** Evaluate only the first N examples. */
  limit?: number;
  /** Skip the base model (adapters only). */
  base: boolean;
  /** tfjs backend (overrides the recipe's `backend`). */
  backend?: BackendChoice;
  /** `redis://host:port`: fan the shards out to `lora worker`s over BullMQ instead of generating here. */
  queue?: string;
  /** Examples per shard with `--queue` (default: 4 batches). */
  shardSize?: number;
}

/**
 * Registers `lora eval <recipe.yaml>`: generates with the base model and each adapter in one
 * process (the adapter disabled for the base), scores the recipe's metrics, and writes
 * `comparison_summary.md`, `comparison_table.csv`, `metrics_<run>.json`, `predictions_<run>.jsonl`
 * and plots. Predictions are saved as they are produced; a rerun resumes.
 *
 * @example
 * ```sh
 * lora eval examples/carbot/recipes/smoke.yaml --adapter runs/carbot --out runs/carbot/eval
 * ```
 */
export function registerEval(program: Command, io: CliIo): void {
  program
    .command('eval')
    .description("Evaluate base vs adapter(s) on a test set with the recipe's metrics.")
    .argument('<recipe>', 'recipe file (.yaml / .json) with an `evaluation` section')
    .option(
      '--adapter <dir>',
      'PEFT adapter folder to compare with the base (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--test <file>', 'test file (.jsonl / .json): {id, prompt | messages, reference?}')
    .option('--out <dir>', 'report folder')
    .option('--limit <n>', 'evaluate only the first n examples', integer(1))
    .addOption(backendOption('', "the recipe's `backend`, else LORA_BACKEND or automatic"))
    .option('--queue <url>', 'redis://host:port: enqueue shards for `lora worker`s (BullMQ) and merge their predictions')
    .option('--shard-size <n>', 'examples per shard with --queue, a multiple of the batch size (default 4 batches)', integer(1))
    .action(async (file: string, options: EvalCliOptions) => {
      const { loadRecipe, prepareModel } = await import('@lora/recipe');
      const { evalProgressText } = await import('@lora/recipe/internal');
      const { runEval } = await import('@lora/eval');
      const { promptRowsFromChats } = await import('@lora/eval/internal');
      const { InvalidArgumentError } = await import('@lora/core');
      const loadedRecipe = (await loadRecipe(file, io.env)).recipe;
      const recipe = options.backend === undefined ? loadedRecipe : { ...loadedRecipe, backend: options.backend };
      const evaluation = recipe.evaluation;
      const testFile = options.test ?? evaluation?.test;
      if (testFile === undefined)
        throw new InvalidArgumentError({ argument: '--test', message: `${file} has no \`evaluation.test\`; pass --test FILE.` });
      const output = recipe.output ?? join('runs', recipe.name);
      const adapters = options.adapter.length > 0 ? options.adapter : existsSync(join(output, 'adapter_config.json')) ? [output] : [];
      const outDir = options.out ?? evaluation?.output ?? join(output, 'eval');
      const rows = await readTestRows(testFile); // before the model loads: a bad test file fails fast
      if (options.queue !== undefined) {
        const { queuedEval } = await import('./queue-eval.js');
        return queuedEval({
          io,
          recipe,
          testFile,
          rows: rows.length,
          limit: options.limit ?? evaluation?.limit,
          adapters,
          outDir,
          queue: options.queue,
          shardSize: options.shardSize,
        });
      }
      // The adapters are loaded by runEval, which names each run after its folder.
      const { model, tokenizer, render } = await prepareModel(recipe, {
        env: io.env,
        log: (line) => io.writeErr(`${line}\n`),
        kind: 'inference',
        adapter: 'none',
      });
      try {
        const limit = options.limit ?? evaluation?.limit;
        const progress = progressOf(io);
        const result = await runEval({
          model,
          tokenizer,
          examples: promptRowsFromChats(limit === undefined ? rows : rows.slice(0, limit), render),
          metrics: (evaluation?.metrics ?? ['exact_match']) as never,
          outDir,
          adapters: adapters.map((dir) => ({ dir })),
          generation: { maxNewTokens: evaluation?.maxNewTokens ?? 64, temperature: evaluation?.temperature ?? 0 },
          batchSize: evaluation?.batchSize ?? 4,
          ...(evaluation?.aliases === undefined ? {} : { aliases: evaluation.aliases }),
          ...(recipe.data.addBos === undefined ? {} : { addBos: recipe.data.addBos }),
          onProgress: (variant, p) => progress.update(p.done, p.total, evalProgressText(variant, p)),
        });
        for (const run of result.runs) {
          const s = run.stats;
          io.writeErr(
            `[lora] ${run.run}: ${run.count} predictions${s === undefined ? '' : ` (${s.resumed} resumed, ${s.generated} generated)`}\n`,
          );
        }
        io.writeOut(await readFile(result.files.summary, 'utf8'));
        io.writeErr(`[lora] wrote ${result.outDir}\n`);
      } finally {
        model.dispose();
      }
    });
}

/** The records of a `.json` (array) or `.jsonl` test file; a malformed line or an empty file is an error naming it. */
export async function readTestRows(file: string): Promise<Record<string, unknown>[]> {
  const { FileFormatError } = await import('@lora/core');
  const { readRegularTextFile } = await import('@lora/core/internal');
  const text = await readRegularTextFile(file, 'test set', { maxBytes: 256 * 1024 * 1024 });
  const parse = (json: string, line?: number): unknown => {
    try {
      return JSON.parse(json);
    } catch (error) {
      throw new FileFormatError({
        file,
        ...(line === undefined ? {} : { line }),
        message: `invalid JSON: ${(error as Error).message}`,
        cause: error,
      });
    }
  };
  const rows: unknown[] = [];
  if (file.endsWith('.json')) {
    const value = parse(text);
    if (!Array.isArray(value)) throw new FileFormatError({ file, message: 'expected a JSON array of test records.' });
    rows.push(...(value as unknown[]));
  } else {
    text.split('\n').forEach((l, i) => {
      if (l.trim() !== '') rows.push(parse(l, i + 1));
    });
  }
  if (rows.length === 0) throw new FileFormatError({ file, message: 'the test set is empty: it holds no record.' });
  const bad = rows.findIndex((r) => r === null || typeof r !== 'object' || Array.isArray(r));
  if (bad !== -1) throw new FileFormatError({ file, message: `record ${bad + 1} is not a JSON object.` });
  return rows as Record<string, unknown>[];
}
