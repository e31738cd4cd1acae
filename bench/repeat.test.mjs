import { describe, expect, it } from 'vitest';
import { aggregateRuns, median, ratioLine, runLine, summarize, unitDigits } from './repeat.mjs';

describe('median and summarize', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('drops missing values and reports min, max and the spread relative to the median', () => {
    const s = summarize([1.2, null, 0.8, undefined, Number.NaN, 1.0]);
    expect(s).toEqual({ n: 3, median: 1.0, min: 0.8, max: 1.2, relativeSpread: expect.closeTo(0.4, 12) });
  });

  it('is null when no number is left', () => {
    expect(summarize([null, undefined])).toBeNull();
    expect(summarize([])).toBeNull();
  });
});

describe('aggregateRuns', () => {
  const run = (ours, reference, extra = {}) => ({
    workload: 'W2 llama-d512 LoRA SFT',
    unit: 'tok/s',
    ours,
    reference,
    ratio: ours / reference,
    mfu: 0.5,
    ...extra,
  });

  it('gives one row per workload with the median of each number and of the per-run ratios', () => {
    const rows = aggregateRuns([
      [run(100, 100), { workload: 'W5 MC', unit: 'questions/s', ours: 10, reference: 5, ratio: 2 }],
      [run(120, 80)],
      [run(90, 100), { workload: 'W5 MC', unit: 'questions/s', ours: 12, reference: 4, ratio: 3 }],
    ]);
    expect(rows.map((r) => r.workload)).toEqual(['W2 llama-d512 LoRA SFT', 'W5 MC']);
    const [w2, w5] = rows;
    expect(w2.ours).toBe(100);
    expect(w2.reference).toBe(100);
    // Median of the ratios 1.0, 1.5, 0.9 — not 100 ÷ 100 of the medians.
    expect(w2.ratio).toBe(1.0);
    expect(w2.ratioSummary).toMatchObject({ n: 3, min: 0.9, max: 1.5 });
    expect(w2.runs).toEqual([
      { ours: 100, reference: 100, ratio: 1 },
      { ours: 120, reference: 80, ratio: 1.5 },
      { ours: 90, reference: 100, ratio: 0.9 },
    ]);
    expect(w5.ratio).toBe(2.5);
    expect(w5.ratioSummary.n).toBe(2);
  });

  it('keeps null when a run has no reference', () => {
    const [row] = aggregateRuns([[{ workload: 'W4 decode', unit: 'tok/s', ours: 5, reference: null, ratio: null }]]);
    expect(row.reference).toBeNull();
    expect(row.ratio).toBeNull();
    expect(row.ratioSummary).toBeNull();
  });
});

describe('ratio lines', () => {
  it('prints one run in the `Wn … ratio=X` form', () => {
    const row = { workload: 'W2 llama-d512 LoRA SFT', unit: 'tok/s', ours: 1374.26, reference: 971.8, ratio: 1.4141 };
    expect(runLine(row, 1, 3)).toBe('W2 llama-d512 LoRA SFT run 2/3: @lora=1374.3 reference=971.8 tok/s ratio=1.41');
  });

  it('prints the median with its min, max and spread', () => {
    const [row] = aggregateRuns(
      [1.32, 1.41, 1.55].map((ratio) => [{ workload: 'W2 x', unit: 'tok/s', ours: 100 * ratio, reference: 100, ratio }]),
    );
    expect(ratioLine(row)).toBe(
      'W2 x: ratio=1.41 (median of 3 A/B runs, min 1.32, max 1.55, spread 16%) @lora=141.0 reference=100.0 tok/s',
    );
  });

  it('says when one run gives no spread', () => {
    const [row] = aggregateRuns([[{ workload: 'W5 y', unit: 'questions/s', ours: 14.15, reference: 9.17, ratio: 1.543 }]]);
    expect(ratioLine(row)).toContain('ratio=1.54 (1 run, no spread: use --repeat 3 or more before quoting it)');
    expect(ratioLine(row)).toContain('@lora=14.15 reference=9.17 questions/s');
  });

  it('formats by unit', () => {
    expect([unitDigits('B/param'), unitDigits('questions/s'), unitDigits('tok/s')]).toEqual([3, 2, 1]);
  });
});
