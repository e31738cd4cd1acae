/**
 * Writes the F1 multiple-choice splits as JSONL.
 *
 *   pnpm --filter @lora-examples/f1 generate -- --out data/f1 [--seed 0] [--from 1950] [--to 2025]
 *     [--max-per-category 200] [--f1db $LORA_ASSETS_DIR/data/f1db]
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@lora/core';
import { splitF1Questions, writeF1Splits } from './dataset.js';
import { loadF1Db } from './f1db.js';
import { generateF1Questions } from './questions.js';

function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError({ argument: `--${name}`, message: `must be an integer, got "${value}"` });
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      f1db: { type: 'string' },
      out: { type: 'string' },
      seed: { type: 'string', default: '0' },
      from: { type: 'string' },
      to: { type: 'string' },
      'max-per-category': { type: 'string' },
    },
  });
  const assets = process.env.LORA_ASSETS_DIR;
  const f1db = values.f1db ?? (assets === undefined ? undefined : join(assets, 'data', 'f1db'));
  if (f1db === undefined) throw new InvalidArgumentError({ argument: '--f1db', message: 'pass --f1db <dir> or set LORA_ASSETS_DIR' });
  if (values.out === undefined)
    throw new InvalidArgumentError({ argument: '--out', message: 'pass the output folder, e.g. --out data/f1' });
  const seed = intOption('seed', values.seed) ?? 0;
  const fromSeason = intOption('from', values.from);
  const toSeason = intOption('to', values.to);
  const maxPerCategory = intOption('max-per-category', values['max-per-category']);
  const started = Date.now();
  const db = await loadF1Db(f1db, { ...(fromSeason === undefined ? {} : { fromSeason }), ...(toSeason === undefined ? {} : { toSeason }) });
  const questions = generateF1Questions(db, { seed, ...(maxPerCategory === undefined ? {} : { maxPerCategory }) });
  const result = splitF1Questions(questions, { seed });
  const files = await writeF1Splits(resolve(values.out), result, {
    source: 'F1DB (CC-BY-4.0, F1DB / Marcel Overdijk et al.)',
    seed,
    fromSeason,
    toSeason,
    maxPerCategory,
  });
  console.log(`${questions.length} questions from ${db.seasons.length} seasons in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const s of result.strata)
    console.log(
      `  ${s.stratum.padEnd(26)} ${String(s.total).padStart(5)}  train ${s.counts.train}  validation ${s.counts.validation}  test ${s.counts.test}`,
    );
  for (const f of files) console.log(`wrote ${f}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
