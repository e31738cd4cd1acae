/**
 * Runs the judge recipe: data → QLoRA training → base vs adapter verdicts → report.
 *
 *   pnpm --filter @lora-examples/judge smoke            # = --preset smoke --out runs/judge-smoke
 *   pnpm --filter @lora-examples/judge full
 *   pnpm --filter @lora-examples/judge smollm2          # SmolLM2-135M-Instruct, QLoRA (tensorflow backend)
 *   tsx --conditions=@lora/source src/main.ts --preset smoke|full|smollm2 [--recipe FILE] [--out DIR] [--max-steps N]
 *     [--limit N] [--resume] [--judge-provider openai|gemini|openai-compatible --judge-model ID [--judge-base-url URL]]
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@lora/core';
import { positiveIntegerFlag } from '@lora/core/internal';
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
  // runJudgePipeline rejects an unknown preset, naming the ones there are.
  const preset = values.preset as JudgePresetName;
  const provider = values['judge-provider'];
  if (provider !== undefined && values['judge-model'] === undefined)
    throw new InvalidArgumentError({ argument: '--judge-model', message: 'give the model id of the --judge-provider' });
  const maxSteps = positiveIntegerFlag('max-steps', values['max-steps']);
  const evalLimit = positiveIntegerFlag('limit', values.limit);
  await runJudgePipeline({
    preset,
    out: values.out ?? `runs/judge-${preset}`,
    resume: values.resume,
    recipeFile: values.recipe,
    maxSteps,
    evalLimit,
    ...(provider === undefined
      ? {}
      : {
          judge: {
            provider: provider as JudgeProviderName,
            model: values['judge-model'] as string,
            ...(values['judge-base-url'] === undefined ? {} : { baseUrl: values['judge-base-url'] }),
          },
        }),
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
