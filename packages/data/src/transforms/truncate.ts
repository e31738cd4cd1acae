import { InvalidArgumentError } from '@lora/core';
import type { TokenizedExample } from './tokenized-example.js';

/** Options of {@link truncateExample} and {@link truncateExamples}. */
export interface TruncateOptions {
  /** Maximum number of tokens kept. */
  maxLength: number;
  /** `right` (default) drops the end; `left` drops the beginning (keeps the latest context). */
  side?: 'left' | 'right';
}

/** Counts of a {@link truncateExamples} pass. */
export interface TruncationStats {
  /** Examples seen. */
  examples: number;
  /** Examples that were longer than `maxLength`. */
  truncated: number;
  /** Tokens removed in total. */
  removedTokens: number;
  /** Trained tokens (labels mask 1) removed in total. */
  removedTrainedTokens: number;
  /** Examples left with no trained token (they contribute nothing to the loss). */
  withoutTrainedTokens: number;
}

/** Cuts one example to `maxLength` tokens; `removed` is how many were dropped (0 if it fit). */
export function truncateExample(
  example: TokenizedExample,
  options: TruncateOptions,
): { example: TokenizedExample; removed: number; removedTrained: number } {
  const { maxLength } = options;
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new InvalidArgumentError({ argument: 'maxLength', message: `must be a positive integer, got ${maxLength}` });
  }
  checkLengths(example);
  const n = example.inputIds.length;
  if (n <= maxLength) return { example, removed: 0, removedTrained: 0 };
  const [start, end] = options.side === 'left' ? [n - maxLength, n] : [0, maxLength];
  let kept = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const m = example.labelsMask[i] as number;
    total += m;
    if (i >= start && i < end) kept += m;
  }
  return {
    example: { inputIds: example.inputIds.slice(start, end), labelsMask: example.labelsMask.slice(start, end) },
    removed: n - maxLength,
    removedTrained: total - kept,
  };
}

/**
 * Truncates every example to `maxLength` and counts what was lost, so a report can say how many
 * records (and trained tokens) truncation touched.
 *
 * @example
 * ```ts
 * const { examples, stats } = truncateExamples(encoded, { maxLength: 1024 });
 * console.log(`${stats.truncated}/${stats.examples} truncated`);
 * ```
 */
export function truncateExamples(
  examples: Iterable<TokenizedExample>,
  options: TruncateOptions,
): { examples: TokenizedExample[]; stats: TruncationStats } {
  const stats: TruncationStats = { examples: 0, truncated: 0, removedTokens: 0, removedTrainedTokens: 0, withoutTrainedTokens: 0 };
  const out: TokenizedExample[] = [];
  for (const example of examples) {
    const result = truncateExample(example, options);
    stats.examples += 1;
    if (result.removed > 0) stats.truncated += 1;
    stats.removedTokens += result.removed;
    stats.removedTrainedTokens += result.removedTrained;
    if (!result.example.labelsMask.includes(1)) stats.withoutTrainedTokens += 1;
    out.push(result.example);
  }
  return { examples: out, stats };
}

/** Throws unless `inputIds` and `labelsMask` have the same length. @internal */
export function checkLengths(example: TokenizedExample, index?: number): void {
  if (example.inputIds.length !== example.labelsMask.length) {
    throw new InvalidArgumentError({
      argument: index === undefined ? 'example' : `examples[${index}]`,
      message: `inputIds has ${example.inputIds.length} tokens but labelsMask has ${example.labelsMask.length}; they must match`,
    });
  }
}
