/**
 * Writes the GSM8K recipe data: `fewshot_pool.jsonl`, `train.jsonl` (pool removed, prompt/completion
 * with the preset's shots), `test.jsonl` and `safety_prompts.jsonl`.
 *
 *   pnpm --filter @lora-examples/gsm8k generate -- --out data/gsm8k [--preset simple] [--safety 120] [--seed 0]
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@lora/core';
import { loadAiluminate } from '@lora-examples/judge';
import { loadGsm8k, takeGsm8kFewShotPool } from './data.js';
import { resolveGsm8kPreset } from './presets.js';
import { renderGsm8kPrompt, toGsm8kPromptCompletion } from './prompts.js';
import { sampleSafetyPrompts } from './safety.js';

const jsonl = (rows: readonly unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length > 0 ? '\n' : '');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      assets: { type: 'string' },
      out: { type: 'string' },
      preset: { type: 'string', default: 'simple' },
      safety: { type: 'string', default: '120' },
      seed: { type: 'string', default: '0' },
    },
  });
  const assets = values.assets ?? process.env.LORA_ASSETS_DIR;
  if (assets === undefined)
    throw new InvalidArgumentError({ argument: '--assets', message: 'pass --assets <dir holding data/gsm8k> or set LORA_ASSETS_DIR' });
  if (values.out === undefined)
    throw new InvalidArgumentError({ argument: '--out', message: 'pass the output folder, e.g. --out data/gsm8k' });
  const preset = resolveGsm8kPreset(values.preset);
  const out = resolve(values.out);
  await mkdir(out, { recursive: true });
  const { pool, train } = takeGsm8kFewShotPool(await loadGsm8k(join(assets, 'data', 'gsm8k'), 'train'));
  const test = await loadGsm8k(join(assets, 'data', 'gsm8k'), 'test');
  const safety = sampleSafetyPrompts(await loadAiluminate(join(assets, 'data', 'ailuminate')), {
    count: Number(values.safety),
    seed: Number(values.seed),
  });
  await writeFile(join(out, 'fewshot_pool.jsonl'), jsonl(pool));
  await writeFile(join(out, 'train.jsonl'), jsonl(train.map((r) => toGsm8kPromptCompletion(r, pool, preset.fewShotK))));
  await writeFile(
    join(out, 'test.jsonl'),
    jsonl(test.map((r) => ({ prompt: renderGsm8kPrompt(r.question, pool, preset.fewShotK), reference: r.answer }))),
  );
  await writeFile(join(out, 'safety_prompts.jsonl'), jsonl(safety));
  console.log(
    `pool ${pool.length}, train ${train.length}, test ${test.length}, safety ${safety.length} (preset ${preset.name}, k=${preset.fewShotK}) → ${out}`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
