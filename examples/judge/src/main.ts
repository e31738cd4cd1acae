/**
 * Runs the judge recipe: data → QLoRA training → base vs adapter verdicts → report.
 *
 *   pnpm --filter @lora-examples/judge smoke            # = --preset smoke --out runs/judge-smoke
 *   pnpm --filter @lora-examples/judge full
 *   tsx --conditions=@lora/source src/main.ts --preset smoke|full [--recipe FILE] [--out DIR] [--max-steps N]
 *     [--limit N] [--resume] [--judge-provider openai|gemini|openai-compatible --judge-model ID [--judge-base-url URL]]
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError, positiveIntegerFlag } from '@lora/core';
import type { JudgeProviderName } from '@lora/judge';
import { runJudgePipeline, type JudgePresetName } from './pipeline.js';


async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      preset: { type: 'string', default: 'smoke' },
      recipe: { type: 'string' },
      out: { type: 'string' },
      'max-steps': { type: 'string' },
      limit: { type: 'string' },
      resume: { type: 'boolean', default: false },
      'judge-provider': { type: 'string' },
      'judge-model': { type: 'string' },
      'judge-base-url': { type: 'string' },
    },
  });
  if (values.preset !== 'smoke' && values.preset !== 'full') throw new InvalidArgumentError({ argument: '--preset', message: `must be smoke or full, got "${values.preset}"` });
  const preset: JudgePresetName = values.preset;
  const provider = values['judge-provider'];
  if (provider !== undefined && values['judge-model'] === undefined) throw new InvalidArgumentError({ argument: '--judge-model', message: 'give the model id of the --judge-provider' });
  const maxSteps = positiveIntegerFlag('max-steps', values['max-steps']);
  const evalLimit = positiveIntegerFlag('limit', values.limit);
  await runJudgePipeline({
    preset,
    out: values.out ?? `runs/judge-${preset}`,
    resume: values.resume,
    ...(values.recipe === undefined ? {} : { recipeFile: values.recipe }),
    ...(maxSteps === undefined ? {} : { maxSteps }),
    ...(evalLimit === undefined ? {} : { evalLimit }),
    ...(provider === undefined
      ? {}
      : { judge: { provider: provider as JudgeProviderName, model: values['judge-model'] as string, ...(values['judge-base-url'] === undefined ? {} : { baseUrl: values['judge-base-url'] }) } }),
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
