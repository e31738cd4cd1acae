import { Rng } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { collatePacked } from '../collate/collate.js';
import { batchBlockDiagonalCausalMask, blockDiagonalCausalMask, maskToRows } from './attention-mask.js';
import { packSequences } from './pack.js';
import { padSequences } from './pad.js';
import { IGNORE_INDEX, type TokenizedExample } from './tokenized-example.js';
import { truncateExample, truncateExamples } from './truncate.js';

/** Example `i` has tokens 1000·(i+1) + t and trains on its second half. */
function example(i: number, n: number): TokenizedExample {
  const inputIds = Int32Array.from({ length: n }, (_, t) => 1000 * (i + 1) + t);
  const labelsMask = Uint8Array.from({ length: n }, (_, t) => (t >= n / 2 ? 1 : 0));
  return { inputIds, labelsMask };
}

describe('truncation', () => {
  it('cuts right or left and counts truncated records and lost trained tokens', () => {
    const ex = example(0, 10);
    const right = truncateExample(ex, { maxLength: 6 });
    expect(Array.from(right.example.inputIds)).toEqual([1000, 1001, 1002, 1003, 1004, 1005]);
    expect([right.removed, right.removedTrained]).toEqual([4, 4]);
    const left = truncateExample(ex, { maxLength: 6, side: 'left' });
    expect(Array.from(left.example.inputIds)).toEqual([1004, 1005, 1006, 1007, 1008, 1009]);
    expect([left.removed, left.removedTrained]).toEqual([4, 0]);
    const { examples, stats } = truncateExamples([example(0, 4), example(1, 10), example(2, 12)], { maxLength: 5 });
    expect(examples.map((e) => e.inputIds.length)).toEqual([4, 5, 5]);
    expect(stats).toEqual({ examples: 3, truncated: 2, removedTokens: 12, removedTrainedTokens: 11, withoutTrainedTokens: 2 });
    expect(() => truncateExample({ inputIds: new Int32Array(3), labelsMask: new Uint8Array(2) }, { maxLength: 2 })).toThrow(
      /labelsMask has 2/,
    );
  });
});

describe('padding', () => {
  it('pads right for training and left for generation', () => {
    const seqs = [Int32Array.of(5, 6, 7), Int32Array.of(8)];
    const right = padSequences(seqs, { padId: 0 });
    expect(right.shape).toEqual([2, 3]);
    expect(Array.from(right.inputIds)).toEqual([5, 6, 7, 8, 0, 0]);
    expect(Array.from(right.attentionMask)).toEqual([1, 1, 1, 1, 0, 0]);
    const left = padSequences(seqs, { padId: 0, side: 'left', padToMultipleOf: 4 });
    expect(left.shape).toEqual([2, 4]);
    expect(Array.from(left.inputIds)).toEqual([0, 5, 6, 7, 0, 0, 0, 8]);
    expect(Array.from(left.attentionMask)).toEqual([0, 1, 1, 1, 0, 0, 0, 1]);
    expect(Array.from(left.positionIds)).toEqual([0, 0, 1, 2, 0, 0, 0, 0]);
    expect(() => padSequences(seqs, { padId: 0, length: 2 })).toThrow(/shorter than the longest/);
  });
});

describe('packing', () => {
  it('best-fit decreasing on a small case', () => {
    const lengths = [5, 4, 3, 3, 2, 2, 1];
    const { sequences, fillRate } = packSequences(
      lengths.map((n, i) => example(i, n)),
      { maxLength: 8 },
    );
    expect(sequences.map((s) => s.documents.map((d) => lengths[d.index]))).toEqual([
      [5, 3],
      [4, 3, 1],
      [2, 2],
    ]);
    expect(fillRate).toBeCloseTo(20 / 24, 12);
  });

  it('keeps every token once, resets positions, confines attention to each document', () => {
    const rng = new Rng(11);
    const examples = Array.from({ length: 300 }, (_, i) => example(i, 1 + rng.nextInt(64)));
    const maxLength = 128;
    const { sequences } = packSequences(examples, { maxLength });
    const seen = sequences.flatMap((s) => s.documents.map((d) => d.index)).sort((a, b) => a - b);
    expect(seen).toEqual(examples.map((_, i) => i));
    for (const s of sequences) {
      expect(s.inputIds.length).toBeLessThanOrEqual(maxLength);
      s.documents.forEach((d, k) => {
        const src = examples[d.index] as TokenizedExample;
        expect(Array.from(s.inputIds.subarray(d.start, d.start + d.length))).toEqual(Array.from(src.inputIds));
        expect(Array.from(s.labelsMask.subarray(d.start, d.start + d.length))).toEqual(Array.from(src.labelsMask));
        expect(Array.from(s.positionIds.subarray(d.start, d.start + d.length))).toEqual(Array.from({ length: d.length }, (_, t) => t));
        expect(s.segmentIds.subarray(d.start, d.start + d.length).every((x) => x === k + 1)).toBe(true);
      });
    }
    const total = examples.reduce((a, e) => a + e.inputIds.length, 0);
    expect(sequences.length).toBeLessThanOrEqual(Math.ceil(total / maxLength) + 2); // near the lower bound

    const batch = collatePacked(sequences.slice(0, 4), { padId: 0, length: maxLength });
    const [B, L] = batch.shape;
    const mask = batchBlockDiagonalCausalMask(batch.segmentIds as Int32Array, batch.shape);
    const segments = batch.segmentIds as Int32Array;
    const positions = batch.positionIds as Int32Array;
    for (let b = 0; b < B; b++) {
      for (let q = 0; q < L; q++) {
        let visible = 0;
        for (let k = 0; k < L; k++) {
          if (mask[(b * L + q) * L + k] !== 1) continue;
          visible += 1;
          expect(k <= q && segments[b * L + k] === segments[b * L + q]).toBe(true); // never cross-document, never the future
        }
        expect(visible).toBe(segments[b * L + q] === 0 ? 1 : (positions[b * L + q] as number) + 1);
      }
    }
  });

  it('collatePacked: -100 on masked tokens, padding and each document start', () => {
    const a: TokenizedExample = { inputIds: Int32Array.of(11, 12, 13), labelsMask: Uint8Array.of(1, 1, 1) };
    const b: TokenizedExample = { inputIds: Int32Array.of(21, 22, 23, 24), labelsMask: Uint8Array.of(0, 0, 1, 1) };
    const { sequences } = packSequences([a, b], { maxLength: 8 });
    const batch = collatePacked(sequences, { padId: 0, length: 8 });
    expect(batch.shape).toEqual([1, 8]);
    expect(Array.from(batch.inputIds)).toEqual([21, 22, 23, 24, 11, 12, 13, 0]);
    expect(Array.from(batch.labels)).toEqual([IGNORE_INDEX, IGNORE_INDEX, 23, 24, IGNORE_INDEX, 12, 13, IGNORE_INDEX]);
    expect(Array.from(batch.positionIds ?? [])).toEqual([0, 1, 2, 3, 0, 1, 2, 0]);
    expect(Array.from(batch.segmentIds ?? [])).toEqual([1, 1, 1, 1, 2, 2, 2, 0]);
    expect(Array.from(batch.attentionMask)).toEqual([1, 1, 1, 1, 1, 1, 1, 0]);
  });

  it('block-diagonal causal mask as rows', () => {
    expect(maskToRows(blockDiagonalCausalMask([1, 1, 2, 2, 0]), 5)).toEqual([
      [1, 0, 0, 0, 0],
      [1, 1, 0, 0, 0],
      [0, 0, 1, 0, 0],
      [0, 0, 1, 1, 0],
      [0, 0, 0, 0, 1],
    ]);
  });

  it('rejects examples longer than maxLength and empty ones', () => {
    expect(() => packSequences([example(0, 9)], { maxLength: 8 })).toThrow(/truncate first/);
    expect(() => packSequences([example(0, 0)], { maxLength: 8 })).toThrow(/empty/);
  });
});
