import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { carbotJsonSchema } from './catalog.js';
import { generateCarbotExamples } from './generate.js';
import { splitCarbotExamples, type CarbotSplits } from './split.js';

/** Settings of {@link writeCarbotDataset}. */
export interface CarbotDatasetOptions {
  /** Examples to generate (split 80/10/10 by intent). */
  n: number;
  /** Generator and split seed. */
  seed: number;
  /** Keep the system prompt (default true); tiny models such as stories260K drop it. */
  system?: boolean;
}

/** What {@link writeCarbotDataset} wrote. */
export interface CarbotDatasetFiles {
  train: string;
  validation: string;
  test: string;
  /** Per-intent counts (`splits.json`). */
  splits: string;
  /** The action JSON Schema (`action.schema.json`). */
  schema: string;
  /** Rows per split. */
  counts: CarbotSplits['counts'];
}

/**
 * Generates a CarBot data set and writes `train.jsonl`, `validation.jsonl`, `test.jsonl`,
 * `splits.json` and `action.schema.json` into `dir` (created when missing).
 *
 * @example
 * ```ts
 * writeCarbotDataset('runs/carbot/data', { n: 2000, seed: 42 });
 * ```
 */
export function writeCarbotDataset(dir: string, options: CarbotDatasetOptions): CarbotDatasetFiles {
  const examples = generateCarbotExamples({ n: options.n, seed: options.seed, ...(options.system === false ? { system: null } : {}) });
  const { splits, strata, counts } = splitCarbotExamples(examples, options.seed);
  mkdirSync(dir, { recursive: true });
  for (const [name, rows] of Object.entries(splits)) {
    writeFileSync(join(dir, `${name}.jsonl`), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
  const files = carbotDatasetFiles(dir);
  writeFileSync(
    files.splits,
    JSON.stringify({ n: options.n, seed: options.seed, system: options.system !== false, counts, intents: strata }, null, 2) + '\n',
  );
  writeFileSync(files.schema, JSON.stringify(carbotJsonSchema(), null, 2) + '\n');
  return { ...files, counts };
}

/** The file paths of a CarBot data folder. */
export function carbotDatasetFiles(dir: string): Omit<CarbotDatasetFiles, 'counts'> {
  return {
    train: join(dir, 'train.jsonl'),
    validation: join(dir, 'validation.jsonl'),
    test: join(dir, 'test.jsonl'),
    splits: join(dir, 'splits.json'),
    schema: join(dir, 'action.schema.json'),
  };
}

/** True when `dir` already holds the three splits. */
export function hasCarbotDataset(dir: string): boolean {
  const f = carbotDatasetFiles(dir);
  return existsSync(f.train) && existsSync(f.validation) && existsSync(f.test);
}
