import { describe, expect, it } from 'vitest';
import { formatCarbotAnswer } from './generate.js';
import { carbotNormalizer, scoreCarbotPredictions } from './scoring.js';

const gold = { name: 'car.window.set_level', args: { target: 'driver', level: 2 } };

describe('CarBot parser metrics', () => {
  it('scores strict layout, lenient + aliases, and intent', () => {
    const exact = formatCarbotAnswer(gold, 'Setting the driver window to level 2.');
    const aliased = '<ACTION>{"name":"window.set","args":{"position":"front_left","level":"two"}}</ACTION> ok';
    const wrongArgs = formatCarbotAnswer({ name: 'car.window.set_level', args: { target: 'driver', level: 3 } }, 'Level 3.');
    const r = scoreCarbotPredictions([
      { id: 'a', prediction: exact, gold },
      { id: 'b', prediction: aliased, gold },
      { id: 'c', prediction: wrongArgs, gold },
      { id: 'd', prediction: 'Once upon a time', gold },
    ]);
    expect(r.perExample).toEqual({
      a: { action_em_strict: 1, action_em_lenient: 1 },
      b: { action_em_strict: 0, action_em_lenient: 1 },
      c: { action_em_strict: 0, action_em_lenient: 0 },
      d: { action_em_strict: 0, action_em_lenient: 0 },
    });
    expect(r.actionEmStrict).toBe(0.25);
    expect(r.actionEmLenient).toBe(0.5);
    expect(r.intentAccuracyStrict).toBe(0.5);
    expect(r.intentAccuracyLenient).toBe(0.75);
    // a and c quote "car.window.set_level"; b uses an alias, d no name.
    expect(r.nameMentioned).toBe(0.5);
  });

  it('normalises action objects and leaves other values alone', () => {
    expect(carbotNormalizer({ name: 'media.volume', args: { vol: 5 } })).toEqual({ name: 'car.media.set_volume', args: { level: 5 } });
    expect(carbotNormalizer('text')).toBe('text');
    expect(carbotNormalizer([1, 2])).toEqual([1, 2]);
  });
});
