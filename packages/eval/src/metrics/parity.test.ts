import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectedCalibrationError } from './calibration.js';
import { classificationMetrics } from './classification.js';
import { gsm8kFlexibleExtract, gsm8kScore, gsm8kStrictExtract } from './gsm8k.js';

// Fixtures from tools/parity/eval/make_eval_fixtures.py: lm-evaluation-harness' own gsm8k filters
// and exact_match, scikit-learn's classification metrics and calibration_curve.
const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../../../../fixtures/eval/${name}`, import.meta.url), 'utf8')) as T;

interface Gsm8kCase {
  kind: string;
  response?: string;
  responseIndex?: number;
  referenceIndex?: number;
  reference?: string;
  'strict-match': { extracted: string; exact_match: number };
  'flexible-extract': { extracted: string; exact_match: number };
}

describe('GSM8K extraction equals lm-evaluation-harness', () => {
  const { answers, cases } = fixture<{ answers: string[]; cases: Gsm8kCase[] }>('gsm8k-extraction.json');
  it(`matches on ${cases.length} responses (real answers + crafted edge cases)`, () => {
    expect(cases.length).toBeGreaterThan(400);
    let mismatches = 0;
    for (const c of cases) {
      const response = c.response ?? (answers[c.responseIndex as number] as string);
      const reference = c.reference ?? (answers[c.referenceIndex as number] as string);
      const got = gsm8kScore(response, reference);
      const want = [
        c['strict-match'].extracted,
        c['flexible-extract'].extracted,
        c['strict-match'].exact_match,
        c['flexible-extract'].exact_match,
      ];
      const have = [gsm8kStrictExtract(response), gsm8kFlexibleExtract(response), got.strictMatch, got.flexibleMatch];
      if (JSON.stringify(want) !== JSON.stringify(have)) {
        mismatches++;
        expect(have, `${c.kind}: ${JSON.stringify(response)}`).toEqual(want);
      }
    }
    expect(mismatches).toBe(0);
  });
});

interface ClsCase {
  name: string;
  truth: string[];
  predicted: string[];
  labels: string[] | null;
  expected: {
    labels: string[];
    accuracy: number;
    perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
    macro: { precision: number; recall: number; f1: number };
    weighted: { precision: number; recall: number; f1: number };
    confusion: number[][];
  };
}

describe('classification metrics equal scikit-learn', () => {
  for (const c of fixture<{ cases: ClsCase[] }>('classification.json').cases) {
    it(c.name, () => {
      const r = classificationMetrics(c.truth, c.predicted, { ...(c.labels === null ? {} : { labels: c.labels }), positive: 'DENY' });
      expect(r.labels).toEqual(c.expected.labels);
      expect(r.confusion).toEqual(c.expected.confusion);
      expect(r.accuracy).toBeCloseTo(c.expected.accuracy, 12);
      for (const l of c.expected.labels) {
        const want = c.expected.perClass[l];
        const have = r.perClass[l];
        expect(have?.support).toBe(want?.support);
        for (const k of ['precision', 'recall', 'f1'] as const) expect(have?.[k], `${l} ${k}`).toBeCloseTo(want?.[k] as number, 12);
      }
      for (const k of ['precision', 'recall', 'f1'] as const) {
        expect(r.macro[k]).toBeCloseTo(c.expected.macro[k], 12);
        expect(r.weighted[k]).toBeCloseTo(c.expected.weighted[k], 12);
      }
      expect(r.positive?.recall).toBeCloseTo(c.expected.perClass.DENY?.recall as number, 12);
      expect(r.positive?.falseNegativeRate).toBeCloseTo(1 - (c.expected.perClass.DENY?.recall as number), 12);
    });
  }
});

describe('ECE and reliability bins equal scikit-learn calibration_curve', () => {
  const f = fixture<{
    confidences: number[];
    correct: number[];
    cases: { bins: number; counts: number[]; accuracy: number[]; confidence: number[]; ece: number; mce: number }[];
  }>('calibration.json');
  for (const c of f.cases) {
    it(`${c.bins} bins`, () => {
      const r = expectedCalibrationError(
        f.confidences,
        f.correct.map((x) => x === 1),
        c.bins,
      );
      expect(r.bins.map((b) => b.count)).toEqual(c.counts);
      const nonEmpty = r.bins.filter((b) => b.count > 0);
      nonEmpty.forEach((b, i) => {
        expect(b.accuracy).toBeCloseTo(c.accuracy[i] as number, 12);
        expect(b.confidence).toBeCloseTo(c.confidence[i] as number, 12);
      });
      expect(r.ece).toBeCloseTo(c.ece, 12);
      expect(r.mce).toBeCloseTo(c.mce, 12);
    });
  }
});
