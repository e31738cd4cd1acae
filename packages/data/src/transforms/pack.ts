import { InvalidArgumentError } from '@lora/core';
import { checkLengths } from './truncate.js';
import type { TokenizedExample } from './tokenized-example.js';

/** Where one original example sits in a {@link PackedSequence}. */
export interface PackedDocument {
  /** Index of the example in the input. */
  readonly index: number;
  /** First token position in the packed sequence. */
  readonly start: number;
  /** Number of tokens. */
  readonly length: number;
}

/**
 * Several examples concatenated into one sequence of at most `maxLength` tokens. Positions
 * restart at 0 for each document and `segmentIds` (1, 2, …) tell documents apart, so attention
 * can be confined to each one ({@link blockDiagonalCausalMask}).
 */
export interface PackedSequence extends TokenizedExample {
  /** Position of each token within its own document. */
  readonly positionIds: Int32Array;
  /** 1-based document number of each token within this sequence (0 is reserved for padding). */
  readonly segmentIds: Int32Array;
  /** The documents, in the order they were placed. */
  readonly documents: readonly PackedDocument[];
}

/** Result of {@link packSequences}. */
export interface PackResult {
  /** The packed sequences, in creation order. */
  readonly sequences: PackedSequence[];
  /** Real tokens / (sequences × maxLength). */
  readonly fillRate: number;
}

/**
 * Packs examples into sequences of at most `maxLength` tokens by best-fit decreasing: longest
 * first (ties by input order), each into the open sequence with the least room that still fits
 * it, else a new one. Deterministic. Examples are never split: one longer than `maxLength` is an
 * error (truncate first).
 *
 * @example
 * ```ts
 * const { sequences } = packSequences(encoded, { maxLength: 2048 });
 * const batch = collatePacked(sequences.slice(0, 4), { padId, length: 2048 });
 * ```
 */
export function packSequences(examples: readonly TokenizedExample[], options: { maxLength: number }): PackResult {
  const { maxLength } = options;
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new InvalidArgumentError({ argument: 'maxLength', message: `must be a positive integer, got ${maxLength}` });
  }
  examples.forEach((ex, i) => {
    checkLengths(ex, i);
    if (ex.inputIds.length === 0)
      throw new InvalidArgumentError({ argument: `examples[${i}]`, message: 'is empty; drop empty examples before packing' });
    if (ex.inputIds.length > maxLength) {
      throw new InvalidArgumentError({
        argument: `examples[${i}]`,
        message: `has ${ex.inputIds.length} tokens, more than maxLength ${maxLength}; truncate first (truncateExamples)`,
      });
    }
  });
  const order = examples.map((ex, i) => ({ i, n: ex.inputIds.length })).sort((a, b) => b.n - a.n || a.i - b.i);
  // Open bins bucketed by remaining room; each bucket is a FIFO of bin ids (oldest bin first).
  const byRoom: number[][] = Array.from({ length: maxLength + 1 }, () => []);
  const bins: { members: number[]; used: number }[] = [];
  for (const { i, n } of order) {
    let bin: number | undefined;
    for (let room = n; room <= maxLength && bin === undefined; room++) {
      const bucket = byRoom[room] as number[];
      if (bucket.length > 0) bin = bucket.shift();
    }
    if (bin === undefined) {
      bin = bins.length;
      bins.push({ members: [], used: 0 });
    }
    const b = bins[bin] as { members: number[]; used: number };
    b.members.push(i);
    b.used += n;
    (byRoom[maxLength - b.used] as number[]).push(bin);
  }
  let real = 0;
  const sequences = bins.map(({ members, used }) => {
    real += used;
    const inputIds = new Int32Array(used);
    const labelsMask = new Uint8Array(used);
    const positionIds = new Int32Array(used);
    const segmentIds = new Int32Array(used);
    const documents: PackedDocument[] = [];
    let at = 0;
    members.forEach((index, d) => {
      const ex = examples[index] as TokenizedExample;
      const n = ex.inputIds.length;
      inputIds.set(ex.inputIds, at);
      labelsMask.set(ex.labelsMask, at);
      for (let t = 0; t < n; t++) positionIds[at + t] = t;
      segmentIds.fill(d + 1, at, at + n);
      documents.push({ index, start: at, length: n });
      at += n;
    });
    return { inputIds, labelsMask, positionIds, segmentIds, documents };
  });
  return { sequences, fillRate: sequences.length === 0 ? 0 : real / (sequences.length * maxLength) };
}
