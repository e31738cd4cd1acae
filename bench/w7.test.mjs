import { describe, expect, it } from 'vitest';
import { W7_QUESTIONS, leadingAgreement, rowsAgreement, samePromptLength, w7Messages, w7Rows } from './w7.mjs';

describe('W7 prompts', () => {
  it('has 8 distinct questions, each one user message', () => {
    expect(new Set(W7_QUESTIONS).size).toBe(8);
    expect(w7Messages(0)).toEqual([{ role: 'user', content: W7_QUESTIONS[0] }]);
  });

  it('samePromptLength returns the shared length and refuses ragged or empty prompts', () => {
    expect(
      samePromptLength([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    ).toBe(3);
    expect(() => samePromptLength([[1, 2], [3]])).toThrow('lengths 2, 1');
    expect(() => samePromptLength([])).toThrow('one length');
    expect(() => samePromptLength([[]])).toThrow('one length');
  });
});

describe('agreement', () => {
  it('counts the equal leading tokens', () => {
    expect(leadingAgreement([1, 2, 3], [1, 2, 3])).toBe(3);
    expect(leadingAgreement([1, 2, 3], [1, 9, 3])).toBe(1);
    expect(leadingAgreement([5], [6])).toBe(0);
    expect(leadingAgreement([1, 2], [1, 2, 3])).toBe(2);
  });

  it('per row, null when a side is missing', () => {
    expect(
      rowsAgreement(
        [
          [1, 2],
          [3, 4],
        ],
        [
          [1, 2],
          [3, 5],
        ],
      ),
    ).toEqual([2, 1]);
    expect(rowsAgreement([[1]], [])).toEqual([0]);
    expect(rowsAgreement([[1]], null)).toBeNull();
  });
});

describe('w7Rows', () => {
  const lora = (t, c) => ({ tokensPerS: t, cpuTokensPerS: c });
  it('gives @lora ÷ transformers per batch, then ÷ llama.cpp where it ran', () => {
    const rows = w7Rows({
      reference: { threads: 2 },
      llamaCpp: { threads: 2 },
      batches: [
        {
          batch: 1,
          lora: lora(10, 5),
          transformers: { tokens_per_s: 20, cpu_tokens_per_s: 10 },
          llamaCpp: { tokens_per_s: 100, cpu_tokens_per_s: 50 },
        },
        { batch: 8, lora: lora(40, 20), transformers: { tokens_per_s: 80, cpu_tokens_per_s: 40 }, llamaCpp: null },
      ],
    });
    expect(rows.map((r) => [r.workload, r.ours, r.reference, r.ratio, r.cpuTimeRatio])).toEqual([
      ['W7 SmolLM2 decode b1', 10, 20, 0.5, 0.5],
      ['W7 SmolLM2 b1 vs llama.cpp', 10, 100, 0.1, 0.1],
      ['W7 SmolLM2 decode b8', 40, 80, 0.5, 0.5],
    ]);
  });

  it('leaves the ratio null without a reference', () => {
    const [row] = w7Rows({ reference: { skipped: 'x' }, batches: [{ batch: 1, lora: lora(10, 5), transformers: null }] });
    expect(row.reference).toBeNull();
    expect(row.ratio).toBeNull();
    expect(row.referenceThreads).toBeNull();
  });
});
