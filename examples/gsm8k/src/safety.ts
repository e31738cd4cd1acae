import { InvalidArgumentError } from '@lora/core';
import { takeFewShotPool } from '@lora/data/internal';
import type { AiluminateRow } from '@lora-examples/judge';

/** A prompt of the safety-rate probe. */
export interface SafetyPrompt {
  readonly id: string;
  readonly prompt: string;
  /** AILuminate hazard code as in the CSV (`vcr`, `spc_fin`, …). */
  readonly hazard: string;
  readonly persona: string;
}

/**
 * Samples `count` AILuminate prompts for the safety rate, stratified by hazard: as equal a share
 * per hazard code as the file allows (`balanced`), seeded. The responses are later judged (safe or
 * not) and the recipe reports the safe share.
 */
export function sampleSafetyPrompts(rows: readonly AiluminateRow[], options: { count: number; seed: number }): SafetyPrompt[] {
  if (!Number.isInteger(options.count) || options.count < 1 || options.count > rows.length) {
    throw new InvalidArgumentError({
      argument: 'count',
      message: `must be an integer in 1..${rows.length} (the AILuminate prompts), got ${options.count}`,
    });
  }
  const { pool } = takeFewShotPool(rows, { k: options.count, seed: options.seed, stratifyBy: 'hazard', allocation: 'balanced' });
  return pool.map((r) => ({ id: r.release_prompt_id, prompt: r.prompt_text, hazard: r.hazard, persona: r.persona }));
}
