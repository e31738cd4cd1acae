import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stratifiedSplit, type StratumCounts } from '@lora/data';
import type { F1Question } from './questions.js';
import { renderF1Text, toMultipleChoiceRecord } from './render.js';

/** Names of the F1 splits. */
export type F1SplitName = 'train' | 'validation' | 'test';

/** Default split fractions. */
export const F1_SPLIT_FRACTIONS: Readonly<Record<F1SplitName, number>> = { train: 0.8, validation: 0.1, test: 0.1 };

/** The split questions and per-category counts. */
export interface F1Splits {
  readonly splits: Readonly<Record<F1SplitName, F1Question[]>>;
  readonly strata: readonly StratumCounts<F1SplitName>[];
  readonly counts: Readonly<Record<F1SplitName, number>>;
}

/** Stratified split of questions by category (exact per-category counts by largest remainder). */
export function splitF1Questions(
  questions: readonly F1Question[],
  options: { seed: number; fractions?: Readonly<Record<F1SplitName, number>> },
): F1Splits {
  const { splits, strata, counts } = stratifiedSplit(questions, {
    fractions: options.fractions ?? F1_SPLIT_FRACTIONS,
    seed: options.seed,
    stratifyBy: 'category',
  });
  return { splits, strata, counts };
}

/** One JSONL row: the question, its SFT `text` and nothing else. */
export function f1JsonlRow(question: F1Question): F1Question & { text: string } {
  return { ...question, text: renderF1Text(question) };
}

/**
 * Writes `<split>.jsonl` (question + SFT `text`), `<split>.mc.jsonl` (the `{question, options,
 * answer}` records the evaluator scores) and `summary.json` (counts per split and category).
 * Returns the paths written.
 */
export async function writeF1Splits(outDir: string, result: F1Splits, meta: Record<string, unknown> = {}): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, rows] of Object.entries(result.splits) as [F1SplitName, F1Question[]][]) {
    const sft = join(outDir, `${name}.jsonl`);
    await writeFile(sft, rows.map((q) => JSON.stringify(f1JsonlRow(q))).join('\n') + (rows.length > 0 ? '\n' : ''));
    const mc = join(outDir, `${name}.mc.jsonl`);
    await writeFile(mc, rows.map((q) => JSON.stringify(toMultipleChoiceRecord(q))).join('\n') + (rows.length > 0 ? '\n' : ''));
    written.push(sft, mc);
  }
  const summary = join(outDir, 'summary.json');
  await writeFile(summary, JSON.stringify({ ...meta, counts: result.counts, strata: result.strata }, null, 2) + '\n');
  written.push(summary);
  return written;
}
