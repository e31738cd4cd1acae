import { describe, expect, it } from 'vitest';
import { generateCarbotExamples } from './generate.js';
import { splitCarbotExamples } from './split.js';

describe('splitCarbotExamples', () => {
  const examples = generateCarbotExamples({ n: 2000, seed: 42 });
  const { splits, strata, counts } = splitCarbotExamples(examples, 42);

  it('splits 80/10/10 within every intent', () => {
    expect(counts).toEqual({ train: 1600, validation: 208, test: 192 });
    expect(strata).toHaveLength(16);
    for (const s of strata) {
      expect(s.total).toBe(125);
      expect(s.counts).toEqual({ train: 100, validation: 13, test: 12 });
    }
    for (const [name, rows] of Object.entries(splits)) {
      for (const s of strata) expect(rows.filter((r) => r.intent === s.stratum).length).toBe(s.counts[name as keyof typeof s.counts]);
    }
  });

  it('puts every example in exactly one split, with no shared request text', () => {
    const ids = [...splits.train, ...splits.validation, ...splits.test].map((e) => e.id);
    expect(new Set(ids).size).toBe(examples.length);
    const text = (rows: typeof examples) => new Set(rows.map((r) => r.messages[1]?.content?.toLowerCase()));
    const train = text(splits.train);
    for (const t of text(splits.validation)) expect(train.has(t)).toBe(false);
    for (const t of text(splits.test)) expect(train.has(t) || text(splits.validation).has(t)).toBe(false);
  });

  it('is deterministic', () => {
    expect(splitCarbotExamples(examples, 42).splits.test.map((e) => e.id)).toEqual(splits.test.map((e) => e.id));
  });
});
