/**
 * One collated micro-batch as `@lora/data` produces it (structurally identical to its `Batch`), all
 * arrays row-major `[batch, length]`.
 */
export interface TrainBatch {
  /** Token ids. */
  readonly inputIds: Int32Array;
  /** Training targets: the token id where trained, -100 where masked (prompt, padding). */
  readonly labels: Int32Array;
  /** 1 on real tokens, 0 on padding. */
  readonly attentionMask?: Uint8Array | Int32Array;
  /** Rotary positions (packed or left-padded batches). */
  readonly positionIds?: Int32Array;
  /** Document number of each token in packed rows (block-diagonal attention). */
  readonly segmentIds?: Int32Array;
  /** `[batch, length]`. */
  readonly shape: readonly [number, number];
}

/** Label value that excludes a position from the loss (PyTorch's `ignore_index`). */
export const IGNORE_INDEX = -100;

/** Splits a row-major `[rows, cols]` array into per-row views. */
export function rowsOf<T extends Int32Array | Uint8Array>(data: T, rows: number, cols: number): T[] {
  const out: T[] = [];
  for (let r = 0; r < rows; r++) out.push(data.subarray(r * cols, (r + 1) * cols) as T);
  return out;
}
