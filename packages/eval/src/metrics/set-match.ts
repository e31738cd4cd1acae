import { prf, type Prf } from './tool-call.js';

/** Result of {@link setExactMatch}. */
export interface SetMatchReport {
  /** Fraction of examples whose predicted set equals the reference set exactly. */
  exactMatch: number;
  /** Mean Jaccard similarity (two empty sets: 1). */
  jaccard: number;
  /** Pooled element precision/recall/F1. */
  micro: Prf;
  count: number;
}

/**
 * Set exact match (e.g. the rules a policy fired): order and duplicates do not matter.
 *
 * @example
 * ```ts
 * setExactMatch([['r2', 'r1']], [['r1', 'r2']]).exactMatch; // 1
 * ```
 */
export function setExactMatch(predicted: readonly (readonly string[])[], reference: readonly (readonly string[])[]): SetMatchReport {
  let exact = 0;
  let jaccard = 0;
  let tp = 0;
  let np = 0;
  let nr = 0;
  reference.forEach((ref, i) => {
    const r = new Set(ref);
    const p = new Set(predicted[i] ?? []);
    const inter = [...p].filter((x) => r.has(x)).length;
    const union = new Set([...p, ...r]).size;
    if (inter === r.size && inter === p.size) exact++;
    jaccard += union === 0 ? 1 : inter / union;
    tp += inter;
    np += p.size;
    nr += r.size;
  });
  const n = reference.length;
  return { exactMatch: n === 0 ? 0 : exact / n, jaccard: n === 0 ? 0 : jaccard / n, micro: prf(tp, np, nr), count: n };
}
