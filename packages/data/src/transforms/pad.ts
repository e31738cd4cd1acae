import { InvalidArgumentError } from '@lora/core';

/** Options of {@link padSequences}. */
export interface PadOptions {
  /**
   * Token id written into padding positions (its attention mask is 0). Typed so that
   * `tokenizer.padTokenId` can be passed as is: the tokenizers already fall back to the first EOS
   * id when `tokenizer_config.json` names no pad token, so `undefined`/`null` only remains for a
   * tokenizer with neither, and is refused with an `InvalidArgumentError` naming `padId`.
   */
  padId: number | null | undefined;
  /** `right` (training, default) or `left` (generation: every prompt ends at the last column). */
  side?: 'left' | 'right';
  /** Padded length; default the longest sequence (after `padToMultipleOf`). */
  length?: number;
  /** Round the padded length up to a multiple of this. */
  padToMultipleOf?: number;
}

/** Sequences padded into a row-major `[batch, length]` block. */
export interface PaddedSequences {
  /** Token ids, `shape[0] × shape[1]`, row-major. */
  readonly inputIds: Int32Array;
  /** 1 on real tokens, 0 on padding. */
  readonly attentionMask: Uint8Array;
  /** Position of each real token within its sequence (0, 1, …); 0 on padding. */
  readonly positionIds: Int32Array;
  /** `[batch, length]`. */
  readonly shape: readonly [number, number];
  /** Column where each row's tokens start (0 for right padding). */
  readonly offsets: readonly number[];
}

/**
 * The pad id to write: `padId` itself, or an `InvalidArgumentError` when it is missing (a
 * tokenizer with neither pad nor EOS token) or not an integer. @internal
 */
export function resolvePadId(padId: number | null | undefined): number {
  if (padId === undefined || padId === null) {
    throw new InvalidArgumentError({
      argument: 'padId',
      message: `is ${padId}: the tokenizer has neither a pad token nor an EOS token to pad with; pass a token id explicitly (e.g. padId: 0)`,
    });
  }
  if (!Number.isInteger(padId)) throw new InvalidArgumentError({ argument: 'padId', message: `must be an integer token id, got ${padId}` });
  return padId;
}

/** The padded length for sequences of these lengths (longest, rounded up to `padToMultipleOf`). @internal */
export function paddedLength(lengths: readonly number[], options: Pick<PadOptions, 'length' | 'padToMultipleOf'>): number {
  const longest = lengths.reduce((a, b) => Math.max(a, b), 0);
  const multiple = options.padToMultipleOf ?? 1;
  if (!Number.isInteger(multiple) || multiple < 1) {
    throw new InvalidArgumentError({ argument: 'padToMultipleOf', message: `must be a positive integer, got ${multiple}` });
  }
  const length = options.length ?? Math.ceil(longest / multiple) * multiple;
  if (!Number.isInteger(length) || length < longest) {
    throw new InvalidArgumentError({
      argument: 'length',
      message: `${length} is shorter than the longest sequence (${longest} tokens); truncate first (truncateExamples) or raise it`,
    });
  }
  return length;
}

/**
 * Pads token sequences to one length: right padding for training, left padding for batched
 * generation. Returns plain typed arrays, row-major `[batch, length]`.
 *
 * @example
 * ```ts
 * const { inputIds, attentionMask, shape } = padSequences(prompts, { padId: tokenizer.padTokenId, side: 'left' });
 * ```
 */
export function padSequences(sequences: readonly ArrayLike<number>[], options: PadOptions): PaddedSequences {
  const padId = resolvePadId(options.padId);
  const length = paddedLength(
    sequences.map((s) => s.length),
    options,
  );
  const batch = sequences.length;
  const inputIds = new Int32Array(batch * length).fill(padId);
  const attentionMask = new Uint8Array(batch * length);
  const positionIds = new Int32Array(batch * length);
  const offsets: number[] = [];
  sequences.forEach((seq, b) => {
    const offset = options.side === 'left' ? length - seq.length : 0;
    offsets.push(offset);
    const row = b * length + offset;
    for (let t = 0; t < seq.length; t++) {
      inputIds[row + t] = seq[t] as number;
      attentionMask[row + t] = 1;
      positionIds[row + t] = t;
    }
  });
  return { inputIds, attentionMask, positionIds, shape: [batch, length], offsets };
}
