/**
 * A collated batch as plain typed arrays, row-major `[batch, length]`. Labels follow the
 * Hugging Face convention: `labels[t] = inputIds[t]` where the token is trained and
 * `IGNORE_INDEX` (-100) elsewhere, including padding; the loss shifts by one.
 */
export interface Batch {
  /** Token ids. */
  readonly inputIds: Int32Array;
  /** Training targets, -100 where masked. */
  readonly labels: Int32Array;
  /** 1 on real tokens, 0 on padding. */
  readonly attentionMask: Uint8Array;
  /** Positions (restart at 0 for each packed document); present for packed batches and left padding. */
  readonly positionIds?: Int32Array;
  /** Document number of each token (1, 2, … per row; 0 on padding); present for packed batches. */
  readonly segmentIds?: Int32Array;
  /** `[batch, length]`. */
  readonly shape: readonly [number, number];
}
