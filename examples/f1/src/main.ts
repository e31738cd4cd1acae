/**
 * Runs the F1 recipe (two models, epoch by epoch) or rebuilds its summaries from disk.
 *
 *   pnpm --filter @lora-examples/f1 smoke                  # = run --preset smoke --out runs/f1-smoke
 *   pnpm --filter @lora-examples/f1 full
 *   tsx --conditions=@lora/source src/main.ts [run] --preset smoke|full [--out DIR] [--epochs N] [--max-steps N] [--limit N]
 *   tsx --conditions=@lora/source src/main.ts rebuild --out DIR   # epoch_results.csv, summary_results.csv, comparison, plots
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError, positiveIntegerFlag } from '@lora/core';
import { rebuildF1Report, runF1Pipeline } from './pipeline.js';


async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      preset: { type: 'string', default: 'smoke' },
      out: { type: 'string' },
      epochs: { type: 'string' },
      'max-steps': { type: 'string' },
      limit: { type: 'string' },
      'judge-provider': { type: 'string' },
      'judge-model': { type: 'string' },
      'judge-base-url': { type: 'string' },
    },
  });
  const command = positionals[0] ?? 'run';
  if (values.preset !== 'smoke' && values.preset !== 'full') throw new InvalidArgumentError({ argument: '--preset', message: `must be smoke or full, got "${values.preset}"` });
  const out = values.out ?? `runs/f1-${values.preset}`;
  if (command === 'rebuild') {
    const files = await rebuildF1Report(out);
    for (const f of [files.epochResults, files.summaryResults, files.summary, files.table, ...files.plots]) console.log(`wrote ${f}`);
    return;
  }
  if (command !== 'run') throw new InvalidArgumentError({ argument: 'command', message: `unknown command "${command}"; use run or rebuild` });
  // MC scoring by log-probability needs no judge; the flags are accepted for a uniform recipe CLI.
  if (values['judge-provider'] !== undefined) console.error('[f1] --judge-provider ignored: answers are scored by log-probability of the options');
  const epochs = positiveIntegerFlag('epochs', values.epochs);
  const maxSteps = positiveIntegerFlag('max-steps', values['max-steps']);
  const evalLimit = positiveIntegerFlag('limit', values.limit);
  await runF1Pipeline({
    preset: values.preset,
    out,
    ...(epochs === undefined ? {} : { epochs }),
    ...(maxSteps === undefined ? {} : { maxSteps }),
    ...(evalLimit === undefined ? {} : { evalLimit }),
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
