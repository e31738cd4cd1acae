import { InvalidArgumentError } from '@lora/core';

/**
 * Splits `total` items into integer counts proportional to `weights` by the largest-remainder
 * (Hamilton) method: floors first, then one more to the largest remainders, ties to the earlier
 * weight. The counts always sum to `total`.
 */
export function largestRemainder(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (!(sum > 0)) throw new InvalidArgumentError({ argument: 'weights', message: `must have a positive sum, got ${sum}` });
  const quotas = weights.map((w) => {
    const q = (total * w) / sum;
    const r = Math.round(q);
    return Math.abs(q - r) < 1e-9 ? r : q; // 10 × 0.1 must give 1, not 0.9999999
  });
  const counts = quotas.map((q) => Math.floor(q));
  let left = total - counts.reduce((a, b) => a + b, 0);
  const order = quotas.map((q, i) => ({ i, rem: q - Math.floor(q) })).sort((a, b) => b.rem - a.rem || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    counts[i] = (counts[i] as number) + 1;
    left -= 1;
  }
  return counts;
}

/** A 32-bit seed mixing `seed` with a string (FNV-1a), so each stratum gets its own stream. */
export function mixSeed(seed: number, key: string): number {
  let h = 0x811c9dc5 ^ Math.imul(seed >>> 0, 0x9e3779b1);
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** How records are assigned to strata: a key name or a function. */
export type StratifyBy<T> = string | ((record: T, index: number) => unknown);

/**
 * Groups record indices by stratum, strata sorted by name (so results do not depend on which
 * stratum appears first). A key name reads `record[key]`, then `record.metadata[key]` (for
 * `Example`s). A missing stratum value is an error, not a silent extra group.
 */
export function groupByStratum<T>(records: readonly T[], stratifyBy: StratifyBy<T> | undefined): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  records.forEach((record, index) => {
    const value =
      stratifyBy === undefined ? '' : typeof stratifyBy === 'function' ? stratifyBy(record, index) : readKey(record, stratifyBy);
    if (value === undefined || value === null || (typeof value === 'object' && value !== null)) {
      throw new InvalidArgumentError({
        argument: 'stratifyBy',
        message: `record ${index} has no usable stratum (${value === null ? 'null' : typeof value}); every record needs a string, number or boolean value${typeof stratifyBy === 'string' ? ` at \`${stratifyBy}\`` : ''}`,
      });
    }
    const key = String(value);
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = []));
    group.push(index);
  });
  return new Map([...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function readKey(record: unknown, key: string): unknown {
  if (record === null || typeof record !== 'object') return undefined;
  const direct = (record as Record<string, unknown>)[key];
  if (direct !== undefined) return direct;
  const metadata = (record as { metadata?: unknown }).metadata;
  return metadata !== null && typeof metadata === 'object' ? (metadata as Record<string, unknown>)[key] : undefined;
}
