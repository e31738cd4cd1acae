import { describe, expect, it } from 'vitest';
import { expectedCalibrationError } from './calibration.js';
import { classificationMetrics } from './classification.js';
import { codePointLength, multipleChoiceOutcome, type OptionScore } from './multiple-choice.js';
import { aliasNormalizer } from './normalize.js';
import { defaultLabel, scorePredictions } from './score.js';
import { setExactMatch } from './set-match.js';

const opt = (option: string, sum: number, tokens = 1): OptionScore => ({
  option,
  sum,
  chars: codePointLength(option),
  tokens,
  isGreedy: false,
});

describe('multiple choice', () => {
  it('acc ranks by sum, acc_norm by sum per character (first index wins ties)', () => {
    const scores = [opt('a cat', -4), opt('an elephant', -6), opt('dog', -4)];
    const r = multipleChoiceOutcome(scores, 1);
    expect(r.pred).toBe(0);
    expect(r.predNorm).toBe(1); // -6/11 > -4/5
    expect([r.acc, r.accNorm]).toEqual([0, 1]);
    expect(r.probs.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 12);
    expect(codePointLength('é😀')).toBe(2);
  });
});

describe('set match and classification helpers', () => {
  it('set exact match ignores order and duplicates', () => {
    const r = setExactMatch([['r2', 'r1', 'r1'], ['r1'], []], [['r1', 'r2'], ['r1', 'r3'], []]);
    expect(r.exactMatch).toBeCloseTo(2 / 3, 12);
    expect(r.jaccard).toBeCloseTo((1 + 0.5 + 1) / 3, 12);
  });
  it('reads the earliest whole-word label', () => {
    expect(defaultLabel('Verdict: deny, not allow', ['ALLOW', 'DENY'])).toBe('DENY');
    expect(defaultLabel('DENYING is not a label', ['DENY'])).toBe('DENYING is not a label');
  });
  it('reports recall and FNR of the chosen class', () => {
    const r = classificationMetrics(['unsafe', 'unsafe', 'unsafe', 'safe'], ['unsafe', 'safe', 'safe', 'safe'], { positive: 'unsafe' });
    expect(r.positive).toMatchObject({ label: 'unsafe', support: 3 });
    expect(r.positive?.recall).toBeCloseTo(1 / 3, 12);
    expect(r.positive?.falseNegativeRate).toBeCloseTo(2 / 3, 12);
  });
  it('ECE is zero for perfect calibration and rejects bad input', () => {
    expect(expectedCalibrationError([1, 1, 0, 0], [true, true, false, false]).ece).toBe(0);
    expect(() => expectedCalibrationError([1.5], [true])).toThrow(/\[0, 1\]/);
  });
});

describe('scorePredictions', () => {
  const records = [
    {
      id: 'a',
      prediction: '<ACTION>{"name": "set_temp", "arguments": {"zone": "driver", "value": 21}}</ACTION>',
      reference: { name: 'set_temperature', arguments: { zone: 'driver', value: 21 } },
      confidence: 0.9,
    },
    {
      id: 'b',
      prediction: '{"name": "open_window", "arguments": {"side": "left"}}',
      reference: '{"name": "open_window", "arguments": {"side": "left"}}',
      confidence: 0.8,
    },
    { id: 'c', prediction: 'I cannot do that', reference: { name: 'honk', arguments: {} }, confidence: 0.3 },
  ];
  it('gives every metric with and without the normalisation hook', () => {
    const r = scorePredictions(
      records,
      [
        { kind: 'json_exact_match', tag: 'ACTION' },
        { kind: 'slot_f1', tag: 'ACTION' },
        { kind: 'json_valid', tag: 'ACTION' },
        { kind: 'calibration', correct: 'json_exact_match', bins: 5 },
      ],
      { normalize: aliasNormalizer({ set_temp: 'set_temperature' }) },
    );
    expect(r.raw.json_exact_match).toBeCloseTo(1 / 3, 12);
    expect(r.normalized?.json_exact_match).toBeCloseTo(2 / 3, 12);
    expect(r.raw['json_valid.strict']).toBeCloseTo(1 / 3, 12);
    expect(r.raw['json_valid.lenient']).toBeCloseTo(2 / 3, 12);
    expect(r.normalized?.['json_valid.lenient']).toBe(r.raw['json_valid.lenient']);
    expect(r.raw['slot_f1.micro']).toBe(1); // slots ignore the function name
    expect(r.raw.ece).toBeGreaterThan(r.normalized?.ece ?? 1);
    expect(r.details.raw.perExample?.a?.json_exact_match).toBe(0);
    expect(r.details.normalized?.perExample?.a?.json_exact_match).toBe(1);
  });
  it('scores GSM8K, labels and sets from text', () => {
    const r = scorePredictions(
      [
        { id: '1', prediction: 'She pays 18 dollars.\n#### 18', reference: 'x\n#### 18' },
        { id: '2', prediction: 'The answer is 7.', reference: '#### 7' },
      ],
      [{ kind: 'gsm8k' }],
    );
    expect(r.raw).toEqual({ 'gsm8k.strict_match': 0.5, 'gsm8k.flexible_extract': 1 });
    const c = scorePredictions(
      [
        { id: '1', prediction: 'DENY', reference: 'DENY' },
        { id: '2', prediction: 'refuse', reference: 'DENY' },
        { id: '3', prediction: 'allow', reference: 'ALLOW' },
      ],
      [{ kind: 'classification', labels: ['ALLOW', 'DENY'], positive: 'DENY' }, { kind: 'set_match' }],
      { normalize: aliasNormalizer({ refuse: 'DENY', allow: 'ALLOW' }) },
    );
    expect(c.raw['classification.recall[DENY]']).toBe(0.5);
    expect(c.normalized?.['classification.recall[DENY]']).toBe(1);
    expect(c.normalized?.['classification.fnr[DENY]']).toBe(0);
    expect(c.raw['set_match.exact']).toBeCloseTo(1 / 3, 12);
    expect(c.normalized?.['set_match.exact']).toBe(1);
  });
});
