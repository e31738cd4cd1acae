/**
 * Writes the judge SFT splits as JSONL plus a class-balance report.
 *
 *   pnpm --filter @lora-examples/judge generate -- --out data/judge [--seed 0] [--clarify 150]
 *     [--ailuminate-per-hazard 40] [--instruction full|compact|minimal]
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@lora/core';
import { balanceReport, buildJudgeRecords, formatBalanceReport, splitJudgeRecords, writeJudgeSplits } from './dataset.js';
import { loadAiluminate, loadXsTest } from './sources.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      assets: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string', default: '0' },
      clarify: { type: 'string', default: '150' },
      'ailuminate-per-hazard': { type: 'string' },
      instruction: { type: 'string', default: 'full' },
    },
  });
  const assets = values.assets ?? process.env.LORA_ASSETS_DIR;
  if (assets === undefined)
    throw new InvalidArgumentError({
      argument: '--assets',
      message: 'pass --assets <dir holding data/xstest and data/ailuminate> or set LORA_ASSETS_DIR',
    });
  if (values.out === undefined)
    throw new InvalidArgumentError({ argument: '--out', message: 'pass the output folder, e.g. --out data/judge' });
  if (values.instruction !== 'full' && values.instruction !== 'compact' && values.instruction !== 'minimal')
    throw new InvalidArgumentError({ argument: '--instruction', message: `must be full, compact or minimal, got "${values.instruction}"` });
  const seed = Number(values.seed);
  const perHazard = values['ailuminate-per-hazard'] === undefined ? undefined : Number(values['ailuminate-per-hazard']);
  const records = buildJudgeRecords(
    await loadXsTest(join(assets, 'data', 'xstest')),
    await loadAiluminate(join(assets, 'data', 'ailuminate')),
    {
      seed,
      clarifyCount: Number(values.clarify),
      instruction: values.instruction,
      ...(perHazard === undefined ? {} : { ailuminatePerHazard: perHazard }),
    },
  );
  const { splits, counts } = splitJudgeRecords(records, { seed });
  const files = await writeJudgeSplits(resolve(values.out), splits);
  console.log(formatBalanceReport(balanceReport(records)));
  console.log(`splits: train ${counts.train}, validation ${counts.validation}, test ${counts.test}`);
  for (const f of files) console.log(`wrote ${f}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
