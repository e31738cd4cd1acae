#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { InvalidArgumentError, LoraError } from '@lora/core';
import { positiveIntegerFlag } from '@lora/core/internal';
import type { JudgeProviderName } from '@lora/judge';
import { type GaiaPresetName, runPipeline } from './pipeline.js';

/*
 * The GAIA recipe from the command line:
 *   tsx --conditions=@lora/source src/main.ts --preset smoke|full|smollm2 --out runs/gaia-smoke
 *     [--recipe FILE] [--traces my-traces.jsonl] [--max-steps N] [--per-category N] [--eval-limit N]
 *     [--judge-provider gemini|openai|openai-compatible --judge-model ID [--judge-base-url URL]]
 * Prints the summary; progress goes to stderr.
 */
const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'smoke' },
    out: { type: 'string' },
    recipe: { type: 'string' },
    traces: { type: 'string' },
    'max-steps': { type: 'string' },
    'per-category': { type: 'string' },
    'eval-limit': { type: 'string' },
    'judge-provider': { type: 'string' },
    'judge-model': { type: 'string' },
    'judge-base-url': { type: 'string' },
  },
});

try {
  // runPipeline rejects an unknown preset, naming the ones there are.
  const preset = values.preset as GaiaPresetName;
  const provider = values['judge-provider'] as JudgeProviderName | undefined;
  if ((provider === undefined) !== (values['judge-model'] === undefined)) {
    throw new InvalidArgumentError({
      argument: '--judge-provider',
      message: 'give --judge-provider and --judge-model together (e.g. --judge-provider gemini --judge-model gemini-2.5-flash)',
    });
  }
  const maxSteps = positiveIntegerFlag('max-steps', values['max-steps']);
  const perCategory = positiveIntegerFlag('per-category', values['per-category']);
  const evalLimit = positiveIntegerFlag('eval-limit', values['eval-limit']);
  const result = await runPipeline({
    preset,
    out: values.out ?? `runs/gaia-${preset}`,
    recipeFile: values.recipe,
    maxSteps,
    evalLimit,
    ...(values.traces === undefined ? {} : { traces: values.traces }),
    ...(perCategory === undefined ? {} : { perCategory }),
    ...(provider === undefined
      ? {}
      : {
          judge: {
            provider,
            model: values['judge-model'] as string,
            ...(values['judge-base-url'] === undefined ? {} : { baseUrl: values['judge-base-url'] }),
          },
        }),
  });
  console.log(`\nreport: ${result.files.summary}`);
} catch (error) {
  if (LoraError.isInstance(error)) {
    console.error(`gaia: ${(error as Error).message}`);
    process.exitCode = 1;
  } else throw error;
}
