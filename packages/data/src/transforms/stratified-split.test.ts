import { join } from 'node:path';
import { InvalidArgumentError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readCsv } from '../readers/csv.js';
import { largestRemainder } from './allocate.js';
import { takeFewShotPool } from './few-shot.js';
import { stratifiedSplit } from './stratified-split.js';

const fractions = { train: 0.8, validation: 0.1, test: 0.1 };
const rows = Array.from({ length: 157 }, (_, i) => ({ id: i, intent: ['a', 'b', 'c', 'd'][i % 7 === 0 ? 3 : i % 3] as string }));

function expectPartition(indices: Record<string, number[]>, n: number): void {
  const all = Object.values(indices)
    .flat()
    .sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
}

describe('largestRemainder', () => {
  it('gives exact counts that sum to the total', () => {
    expect(largestRemainder(26, [0.8, 0.1, 0.1])).toEqual([21, 3, 2]);
    expect(largestRemainder(24, [0.8, 0.1, 0.1])).toEqual([19, 3, 2]);
    expect(largestRemainder(10, [0.8, 0.1, 0.1])).toEqual([8, 1, 1]);
    expect(largestRemainder(3, [0.8, 0.1, 0.1])).toEqual([3, 0, 0]);
    expect(largestRemainder(7, [1, 1, 1])).toEqual([3, 2, 2]);
  });
});

describe('stratifiedSplit', () => {
  it('puts every record in exactly one split with exact per-stratum counts', () => {
    const result = stratifiedSplit(rows, { fractions, seed: 3, stratifyBy: 'intent' });
    expectPartition(result.indices, rows.length);
    for (const s of result.strata) {
      const [train, validation, test] = largestRemainder(s.total, [0.8, 0.1, 0.1]);
      expect(s.counts).toEqual({ train, validation, test });
      for (const name of ['train', 'validation', 'test'] as const) {
        expect(result.splits[name].filter((r) => r.intent === s.stratum).length).toBe(s.counts[name]);
      }
    }
    expect(result.strata.map((s) => s.stratum)).toEqual(['a', 'b', 'c', 'd']);
    expect(result.counts.train + result.counts.validation + result.counts.test).toBe(rows.length);
    expect(result.splits.train.map((r) => r.id)).toEqual(result.indices.train); // original order kept
  });

  it('is deterministic, seed-dependent, and a stratum’s split does not depend on the others', () => {
    const a = stratifiedSplit(rows, { fractions, seed: 3, stratifyBy: 'intent' });
    const b = stratifiedSplit([...rows], { fractions, seed: 3, stratifyBy: (r) => r.intent });
    expect(b.indices).toEqual(a.indices);
    expect(stratifiedSplit(rows, { fractions, seed: 4, stratifyBy: 'intent' }).indices).not.toEqual(a.indices);
    const withoutD = rows.filter((r) => r.intent !== 'd');
    const c = stratifiedSplit(withoutD, { fractions, seed: 3, stratifyBy: 'intent' });
    const ids = (r: { splits: { test: { id: number; intent: string }[] } }, intent: string): number[] =>
      r.splits.test.filter((x) => x.intent === intent).map((x) => x.id);
    expect(ids(c, 'a')).toEqual(ids(a, 'a'));
  });

  it('reads the key from Example metadata and rejects bad input', () => {
    const examples = rows.map((r) => ({ format: 'text' as const, text: String(r.id), metadata: { intent: r.intent } }));
    expect(stratifiedSplit(examples, { fractions, seed: 3, stratifyBy: 'intent' }).strata.length).toBe(4);
    const bad = (f: () => unknown): unknown => {
      try {
        f();
      } catch (e) {
        return InvalidArgumentError.isInstance(e) ? (e as InvalidArgumentError).argument : e;
      }
      return undefined;
    };
    expect(bad(() => stratifiedSplit(rows, { fractions: { train: 0.8, test: 0.1 }, seed: 0 }))).toBe('fractions');
    expect(bad(() => stratifiedSplit(rows, { fractions: { train: 1.1, test: -0.1 }, seed: 0 }))).toBe('fractions.test');
    expect(bad(() => stratifiedSplit(rows, { fractions, seed: 0, stratifyBy: 'missing' }))).toBe('stratifyBy');
  });
});

describe('takeFewShotPool', () => {
  it('draws k records, removes them from the rest, deterministically', () => {
    const { pool, rest, poolIndices, strata } = takeFewShotPool(rows, { k: 8, seed: 1, stratifyBy: 'intent', allocation: 'balanced' });
    expect(pool.length).toBe(8);
    expect(strata.map((s) => s.taken)).toEqual([2, 2, 2, 2]);
    expect(rest.length).toBe(rows.length - 8);
    expect(new Set([...pool, ...rest]).size).toBe(rows.length);
    expect(pool.map((r) => r.id)).toEqual(poolIndices);
    expect(takeFewShotPool(rows, { k: 8, seed: 1, stratifyBy: 'intent', allocation: 'balanced' }).poolIndices).toEqual(poolIndices);
    const proportional = takeFewShotPool(rows, { k: 10, seed: 1, stratifyBy: 'intent' });
    expect(proportional.strata.map((s) => s.taken)).toEqual(
      largestRemainder(
        10,
        proportional.strata.map((s) => s.total),
      ),
    );
    expect(() => takeFewShotPool(rows, { k: rows.length + 1, seed: 0 })).toThrow(/`k`/);
  });
});

const assets = process.env.LORA_ASSETS_DIR;
describe.skipIf(assets === undefined)('split of AILuminate by hazard (needs LORA_ASSETS_DIR)', () => {
  it('80/10/10 per hazard, then a balanced few-shot pool out of train', async () => {
    const file = join(assets ?? '', 'data/ailuminate/airr_official_1.0_demo_en_us_prompt_set_release.csv');
    const records = await readCsv(file, { schema: z.object({ release_prompt_id: z.string(), hazard: z.string() }) }).toArray();
    const { splits, indices, strata } = stratifiedSplit(records, { fractions, seed: 0, stratifyBy: 'hazard' });
    expectPartition(indices, records.length);
    expect(strata.find((s) => s.stratum === 'cse')?.counts).toEqual({ train: 80, validation: 10, test: 10 });
    expect(strata.find((s) => s.stratum === 'spc_fin')?.counts).toEqual({ train: 21, validation: 3, test: 2 });
    const { pool, rest } = takeFewShotPool(splits.train, { k: 15, seed: 0, stratifyBy: 'hazard', allocation: 'balanced' });
    expect(new Set(pool.map((r) => r.hazard)).size).toBe(15);
    const evalIds = new Set([...splits.validation, ...splits.test].map((r) => r.release_prompt_id));
    expect(pool.some((r) => evalIds.has(r.release_prompt_id)) || rest.some((r) => evalIds.has(r.release_prompt_id))).toBe(false);
  });
});
