import { InvalidArgumentError } from '@lora/core';

/**
 * Causal attention mask confined to documents: `mask[q * L + k] = 1` iff key `k ≤ q` and both
 * tokens have the same segment id. Tokens of segment 0 (padding) attend only to themselves, so no
 * softmax row is empty (an all-masked row would give NaN). Never lets a token see another
 * document. Row-major `[L, L]` (query, key).
 *
 * @example
 * ```ts
 * blockDiagonalCausalMask([1, 1, 2]); // rows: [1,0,0], [1,1,0], [0,0,1]
 * ```
 */
export function blockDiagonalCausalMask(segmentIds: ArrayLike<number>): Uint8Array {
  const length = segmentIds.length;
  const mask = new Uint8Array(length * length);
  fillMask(mask, 0, segmentIds, 0, length);
  return mask;
}

/**
 * {@link blockDiagonalCausalMask} for a batch: `segmentIds` is row-major `[batch, length]`; the
 * result is `[batch, length, length]`.
 */
export function batchBlockDiagonalCausalMask(segmentIds: ArrayLike<number>, shape: readonly [number, number]): Uint8Array {
  const [batch, length] = shape;
  if (segmentIds.length !== batch * length) {
    throw new InvalidArgumentError({ argument: 'segmentIds', message: `has ${segmentIds.length} entries, expected ${batch}×${length}` });
  }
  const mask = new Uint8Array(batch * length * length);
  for (let b = 0; b < batch; b++) fillMask(mask, b * length * length, segmentIds, b * length, length);
  return mask;
}

/** A row-major `[L, L]` mask as nested arrays (for printing and small tests). */
export function maskToRows(mask: Uint8Array, length: number): number[][] {
  if (mask.length !== length * length)
    throw new InvalidArgumentError({ argument: 'length', message: `${length}² ≠ mask size ${mask.length}` });
  return Array.from({ length }, (_, q) => Array.from(mask.subarray(q * length, (q + 1) * length)));
}

function fillMask(mask: Uint8Array, out: number, segmentIds: ArrayLike<number>, base: number, length: number): void {
  for (let q = 0; q < length; q++) {
    const sq = segmentIds[base + q] as number;
    const row = out + q * length;
    if (sq === 0) {
      mask[row + q] = 1;
      continue;
    }
    for (let k = 0; k <= q; k++) if ((segmentIds[base + k] as number) === sq) mask[row + k] = 1;
  }
}
