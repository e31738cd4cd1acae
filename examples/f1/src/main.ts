/**
 * Runs the F1 recipe (two models, epoch by epoch) or rebuilds its summaries from disk.
 *
 *   pnpm --filter @lora-examples/f1 smoke                  # = run --preset smoke --out runs/f1-smoke
 *   pnpm --filter @lora-examples/f1 full
 *   pnpm --filter @lora-examples/f1 smollm2                # SmolLM2-135M-Instruct, QLoRA (tensorflow backend)
 *   tsx --conditions=@lora/source src/main.ts [run] --preset smoke|full|smollm2 [--out DIR] [--epochs N] [--max-steps N] [--limit N]
 *   tsx --conditions=@lora/source src/main.ts rebuild --out DIR   # epoch_results.csv, summary_results.csv, comparison, plots
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@lora/core';
import { positiveIntegerFlag } from '@lora/core/internal';
import { F1_PRESETS, type F1PresetName, rebuildF1Report, runF1Pipeline } from './pipeline.js';

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
  if (!Object.hasOwn(F1_PRESETS, values.preset))
    throw new InvalidArgumentError({
      argument: '--preset',
      message: `must be one of ${Object.keys(F1_PRESETS).join(', ')}, got "${values.preset}"`,
    });
  const preset = values.preset as F1PresetName;
  const out = values.out ?? `runs/f1-${preset}`;
  if (command === 'rebuild') {
    const files = await rebuildF1Report(out);
    for (const f of [files.epochResults, files.summaryResults, files.summary, files.table, ...files.plots]) console.log(`wrote ${f}`);
    return;
  }
  if (command !== 'run')
    throw new InvalidArgumentError({ argument: 'command', message: `unknown command "${command}"; use run or rebuild` });
  // MC scoring by log-probability needs no judge; the flags are accepted for a uniform recipe CLI.
  if (values['judge-provider'] !== undefined)
    console.error('[f1] --judge-provider ignored: answers are scored by log-probability of the options');
  const epochs = positiveIntegerFlag('epochs', values.epochs);
  const maxSteps = positiveIntegerFlag('max-steps', values['max-steps']);
  const evalLimit = positiveIntegerFlag('limit', values.limit);
  await runF1Pipeline({
    preset,
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
