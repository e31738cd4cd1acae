/**
 * Runs the GSM8K recipe: train → checkpoint sweep (accuracy, safety) → results and pass/fail.
 * Exit code 0 when every threshold passes, 2 when one fails, 1 on errors.
 *
 *   pnpm --filter @lora-examples/gsm8k smoke            # = --smoke-test --out runs/gsm8k-smoke
 *   pnpm --filter @lora-examples/gsm8k full             # = --preset simple
 *   pnpm --filter @lora-examples/gsm8k smollm2          # SmolLM2-135M-Instruct, QLoRA (tensorflow backend)
 *   tsx --conditions=@lora/source src/main.ts [--smoke-test] [--preset smoke|simple|medium|strong|smollm2] [--recipe FILE]
 *     [--out DIR] [--max-steps N] [--limit N] [--thresholds FILE.json|yaml]
 *     [--judge-provider openai|gemini|openai-compatible --judge-model ID [--judge-base-url URL]]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@lora/core';
import { validate, positiveIntegerFlag } from '@lora/core/internal';
import type { JudgeProviderName } from '@lora/judge';
import { parse as parseYaml } from 'yaml';
import { runGsm8kPipeline, type Gsm8kPipelinePreset } from './pipeline.js';
import { Gsm8kThresholdsSchema, type Gsm8kThresholds } from './thresholds.js';

async function readThresholds(file: string | undefined): Promise<Gsm8kThresholds | undefined> {
  if (file === undefined) return undefined;
  return validate(parseYaml(await readFile(file, 'utf8')) as unknown, Gsm8kThresholdsSchema, { file });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'smoke-test': { type: 'boolean', default: false },
      preset: { type: 'string' },
      recipe: { type: 'string' },
      out: { type: 'string' },
      'max-steps': { type: 'string' },
      limit: { type: 'string' },
      thresholds: { type: 'string' },
      'judge-provider': { type: 'string' },
      'judge-model': { type: 'string' },
      'judge-base-url': { type: 'string' },
    },
  });
  // runGsm8kPipeline rejects an unknown preset, naming the ones there are.
  const preset = values['smoke-test'] ? 'smoke' : (values.preset ?? 'simple');
  const provider = values['judge-provider'];
  if (provider !== undefined && values['judge-model'] === undefined)
    throw new InvalidArgumentError({ argument: '--judge-model', message: 'give the model id of the --judge-provider' });
  const maxSteps = positiveIntegerFlag('max-steps', values['max-steps']);
  const evalLimit = positiveIntegerFlag('limit', values.limit);
  const thresholds = await readThresholds(values.thresholds);
  const result = await runGsm8kPipeline({
    preset: preset as Gsm8kPipelinePreset,
    out: values.out ?? `runs/gsm8k-${preset}`,
    recipeFile: values.recipe,
    maxSteps,
    evalLimit,
    ...(thresholds === undefined ? {} : { thresholds }),
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
  process.exitCode = result.pass ? 0 : 2;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
