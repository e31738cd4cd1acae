import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ScheduleName, makeSchedule, warmupSteps } from './schedules.js';

// fixtures/train/schedules.json: transformers.get_scheduler at every step (tools/parity/train/make_train_fixtures.py).
const fixture = JSON.parse(readFileSync(new URL('../../../fixtures/train/schedules.json', import.meta.url), 'utf8')) as {
  baseLr: number;
  cases: { name: ScheduleName; total: number; warmup: number; warmupSteps: number; lrs: number[] }[];
};

describe('learning-rate schedules', () => {
  for (const c of fixture.cases) {
    it(`${c.name}, ${c.total} steps, warmup ${c.warmup}`, () => {
      expect(warmupSteps(c.total, c.warmup)).toBe(c.warmupSteps);
      const lr = makeSchedule(c.name, { lr: fixture.baseLr, totalSteps: c.total, warmup: c.warmup });
      c.lrs.forEach((expected, step) => {
        expect(Math.abs(lr(step) - expected)).toBeLessThanOrEqual(1e-15);
      });
    });
  }

  it('scales by the peak lr and rejects bad options', () => {
    expect(makeSchedule('linear', { lr: 2e-4, totalSteps: 10, warmup: 2 })(1)).toBeCloseTo(1e-4, 15);
    expect(() => makeSchedule('linear', { lr: 1, totalSteps: -1 })).toThrow(/totalSteps/);
    expect(() => makeSchedule('nope' as ScheduleName, { lr: 1, totalSteps: 3 })).toThrow(/unknown schedule/);
    expect(() => warmupSteps(10, -0.5)).toThrow(/warmup/);
  });
});
