import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { readJsonl, takeFewShotPool } from '@lora/data/internal';
import { z } from 'zod';

/** A GSM8K row: `question` and `answer` (chain of thought, then `#### N`). */
export const Gsm8kRowSchema = z.looseObject({
  question: z.string().min(1),
  answer: z.string().regex(/#### /, 'a GSM8K answer ends with "#### <number>"'),
});

/** A GSM8K problem. */
export type Gsm8kRow = z.output<typeof Gsm8kRowSchema>;

/** GSM8K files in `data/gsm8k/`. */
export type Gsm8kSplit = 'train' | 'test' | 'test_socratic';

/** Reads `<dir>/<split>.jsonl` (e.g. `$LORA_ASSETS_DIR/data/gsm8k`), validating every line. */
export async function loadGsm8k(dir: string, split: Gsm8kSplit): Promise<Gsm8kRow[]> {
  return readJsonl(join(dir, `${split}.jsonl`), { schema: Gsm8kRowSchema }).toArray();
}

/** The chain of thought and the final value of a dataset answer (`"… #### 72"` → `72`, commas removed). */
export function splitGsm8kAnswer(answer: string, source = 'GSM8K answer'): { reasoning: string; final: string } {
  const at = answer.lastIndexOf('#### ');
  if (at < 0) throw new FileFormatError({ file: source, field: 'answer', message: 'no "#### <number>" final answer' });
  return {
    reasoning: answer.slice(0, at).trimEnd(),
    final: answer
      .slice(at + 5)
      .trim()
      .replace(/,/g, ''),
  };
}

/** Seed and size of the fixed few-shot pool (the recipe's contract: seed 42, 8 examples). */
export const FEW_SHOT_POOL = { seed: 42, k: 8 } as const;

/**
 * Takes the fixed few-shot pool from the training rows and removes it from them, so no prompt
 * shows a problem that is trained on. Returns the pool (in file order) and the remaining train rows.
 */
export function takeGsm8kFewShotPool(
  train: readonly Gsm8kRow[],
  options: { seed?: number; k?: number } = {},
): { pool: Gsm8kRow[]; train: Gsm8kRow[]; poolIndices: number[] } {
  const { pool, rest, poolIndices } = takeFewShotPool(train, { k: options.k ?? FEW_SHOT_POOL.k, seed: options.seed ?? FEW_SHOT_POOL.seed });
  return { pool, train: rest, poolIndices };
}
