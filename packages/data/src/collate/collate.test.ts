import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX } from '../transforms/tokenized-example.js';
import { collate, collatePacked } from './collate.js';

const a = { inputIds: Int32Array.of(1, 2, 3, 4), labelsMask: Uint8Array.of(0, 0, 1, 1) };
const b = { inputIds: Int32Array.of(5, 6), labelsMask: Uint8Array.of(0, 1) };

describe('collate', () => {
  it('right-pads for training with -100 on masked and padded positions', () => {
    const batch = collate([a, b], { padId: 9 });
    expect(batch.shape).toEqual([2, 4]);
    expect(Array.from(batch.inputIds)).toEqual([1, 2, 3, 4, 5, 6, 9, 9]);
    expect(Array.from(batch.labels)).toEqual([IGNORE_INDEX, IGNORE_INDEX, 3, 4, IGNORE_INDEX, 6, IGNORE_INDEX, IGNORE_INDEX]);
    expect(Array.from(batch.attentionMask)).toEqual([1, 1, 1, 1, 1, 1, 0, 0]);
    expect(batch.positionIds).toBeUndefined();
  });

  it('left-pads for generation with per-row positions', () => {
    const batch = collate([a, b], { padId: 9, side: 'left', padToMultipleOf: 8 });
    expect(batch.shape).toEqual([2, 8]);
    expect(Array.from(batch.inputIds.subarray(8))).toEqual([9, 9, 9, 9, 9, 9, 5, 6]);
    expect(Array.from(batch.labels.subarray(8))).toEqual([...Array(7).fill(IGNORE_INDEX), 6]);
    expect(Array.from(batch.positionIds?.subarray(8) ?? [])).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('rejects mismatched lengths naming the example', () => {
    expect(() => collate([a, { inputIds: Int32Array.of(1), labelsMask: new Uint8Array(2) }], { padId: 0 })).toThrow(/examples\[1\]/);
  });

  it('takes tokenizer.padTokenId as is and refuses a missing pad id by name', () => {
    const tokenizer: { padTokenId: number | undefined } = { padTokenId: 7 };
    expect(Array.from(collate([a, b], { padId: tokenizer.padTokenId }).inputIds.subarray(6))).toEqual([7, 7]);
    expect(() => collate([a, b], { padId: undefined })).toThrow(/padId.*neither a pad token nor an EOS token/);
    expect(() => collate([a, b], { padId: null })).toThrow(/padId/);
    expect(() => collatePacked([], { padId: undefined })).toThrow(/padId/);
    expect(() => collate([a, b], { padId: 1.5 })).toThrow(/integer token id/);
  });
});
