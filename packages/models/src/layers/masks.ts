import * as tf from '@tensorflow/tfjs';

/** Additive value for masked attention scores (exp underflows to exactly 0, and no NaN on empty rows). */
export const MASKED = -1e9;

/** Inputs of {@link attentionMask}. All indices are cache slots (columns of the KV cache). */
export interface AttentionMaskSpec {
  batch: number;
  /** Number of queries `T` (new tokens this forward). */
  queryLength: number;
  /** Number of keys `S` (cached + new). */
  keyLength: number;
  /** Slot of the first query (tokens already in the cache). */
  offset: number;
  /** Per row, 1 for real tokens and 0 for padding over all `S` key slots. */
  padding?: readonly ArrayLike<number>[] | undefined;
  /** Per row, document ids over all `S` slots for packed sequences: attention stays inside a document. */
  segments?: readonly ArrayLike<number>[] | undefined;
  /** Sliding window `W`: query slot `i` sees keys `j` with `i - W < j <= i`. */
  slidingWindow?: number | undefined;
}

/**
 * Builds the additive attention mask: causal, optionally sliding-window, padding and
 * block-diagonal (packing). Masks are formed on the host, since they depend only on integer
 * metadata. The mask is `[B, 1, T, S]`, or `[1, 1, T, S]` (broadcast over the batch) without
 * padding and segments; `undefined` when no score is masked at all (a decode step without padding
 * or an exceeded window), so attention can skip the addition.
 */
export function attentionMask(spec: AttentionMaskSpec): tf.Tensor4D | undefined {
  const { queryLength: t, keyLength: s, offset, padding, segments, slidingWindow } = spec;
  const batch = padding === undefined && segments === undefined ? 1 : spec.batch;
  const data = new Float32Array(batch * t * s);
  let masked = false;
  for (let b = 0; b < batch; b++) {
    const pad = padding?.[b];
    const seg = segments?.[b];
    for (let i = 0; i < t; i++) {
      const q = offset + i;
      const row = (b * t + i) * s;
      for (let j = 0; j < s; j++) {
        let ok = j <= q;
        if (ok && slidingWindow !== undefined) ok = j > q - slidingWindow;
        if (ok && pad !== undefined) ok = pad[j] !== 0;
        if (ok && seg !== undefined) ok = seg[j] === seg[q];
        if (!ok) {
          data[row + j] = MASKED;
          masked = true;
        }
      }
    }
  }
  return masked ? tf.tensor4d(data, [batch, 1, t, s]) : undefined;
}
