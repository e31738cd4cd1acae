import { padSequences, paddedLength, resolvePadId } from '../transforms/pad.js';
import type { PackedSequence } from '../transforms/pack.js';
import { checkLengths } from '../transforms/truncate.js';
import { IGNORE_INDEX, type TokenizedExample } from '../transforms/tokenized-example.js';
import type { Batch } from './batch.js';

/**
 * Collates tokenized examples into a padded {@link Batch}: labels are the token ids where
 * `labelsMask` is 1 and -100 elsewhere and on padding. With left padding, `positionIds` are
 * included (each row counts from 0 at its first real token).
 *
 * @example
 * ```ts
 * const batch = collate(examples, { padId: tokenizer.padTokenId });
 * batch.shape; // [examples.length, longest]
 * ```
 */
export function collate(
  examples: readonly TokenizedExample[],
  options: {
    /**
     * Token id of padding; `tokenizer.padTokenId` as is (it already falls back to the first EOS id).
     * `undefined`/`null` (a tokenizer with neither pad nor EOS token) is refused with an
     * `InvalidArgumentError` naming `padId`.
     */
    padId: number | null | undefined;
    /** `right` (training, default) or `left` (generation). */
    side?: 'left' | 'right';
    /** Padded length; default the longest example (after `padToMultipleOf`). */
    length?: number;
    /** Round the padded length up to a multiple of this. */
    padToMultipleOf?: number;
  },
): Batch {
  examples.forEach((ex, i) => checkLengths(ex, i));
  const padded = padSequences(
    examples.map((ex) => ex.inputIds),
    options,
  );
  const [, length] = padded.shape;
  const labels = new Int32Array(padded.inputIds.length).fill(IGNORE_INDEX);
  examples.forEach((ex, b) => {
    const row = b * length + (padded.offsets[b] as number);
    for (let t = 0; t < ex.inputIds.length; t++) if (ex.labelsMask[t] !== 0) labels[row + t] = ex.inputIds[t] as number;
  });
  return {
    inputIds: padded.inputIds,
    labels,
    attentionMask: padded.attentionMask,
    ...(options.side === 'left' ? { positionIds: padded.positionIds } : {}),
    shape: padded.shape,
  };
}

/** Options of {@link collatePacked}. */
export interface CollatePackedOptions {
  /** Token id of padding, as in the `padId` option of {@link collate}. */
  padId: number | null | undefined;
  /** Padded length (usually the packing `maxLength`); default the longest sequence. */
  length?: number;
  /** Round the padded length up to a multiple of this. */
  padToMultipleOf?: number;
}

/**
 * Collates packed sequences (right padded) into a {@link Batch} with `positionIds` that restart
 * per document and `segmentIds` (0 on padding) from which `batchBlockDiagonalCausalMask` builds
 * the attention mask. The label of each document's first token is -100 as well: with the
 * shifted loss it would be predicted from the previous document's last token, which is
 * cross-document learning.
 *
 * @example
 * ```ts
 * const batch = collatePacked(packSequences(encoded, { maxLength: 512 }).sequences, { padId, length: 512 });
 * const mask = batchBlockDiagonalCausalMask(batch.segmentIds!, batch.shape);
 * ```
 */
export function collatePacked(sequences: readonly PackedSequence[], options: CollatePackedOptions): Batch {
  const padId = resolvePadId(options.padId);
  sequences.forEach((s, i) => checkLengths(s, i));
  const length = paddedLength(
    sequences.map((s) => s.inputIds.length),
    options,
  );
  const size = sequences.length * length;
  const inputIds = new Int32Array(size).fill(padId);
  const labels = new Int32Array(size).fill(IGNORE_INDEX);
  const attentionMask = new Uint8Array(size);
  const positionIds = new Int32Array(size);
  const segmentIds = new Int32Array(size);
  sequences.forEach((seq, b) => {
    const row = b * length;
    inputIds.set(seq.inputIds, row);
    positionIds.set(seq.positionIds, row);
    segmentIds.set(seq.segmentIds, row);
    attentionMask.fill(1, row, row + seq.inputIds.length);
    for (let t = 0; t < seq.inputIds.length; t++) {
      const firstOfDocument = t === 0 || seq.segmentIds[t] !== seq.segmentIds[t - 1];
      if (seq.labelsMask[t] !== 0 && !firstOfDocument) labels[row + t] = seq.inputIds[t] as number;
    }
  });
  return { inputIds, labels, attentionMask, positionIds, segmentIds, shape: [sequences.length, length] };
}

/** Options of {@link collate}. The public signature spells it out. */
export type CollateOptions = NonNullable<Parameters<typeof collate>[1]>;
