import { describe, expect, it } from 'vitest';
import { evalProgressText } from './progress.js';

describe('evaluation progress line', () => {
  it('counts answers, elapsed time and an ETA from the examples generated in this run', () => {
    expect(evalProgressText('base', { done: 16, total: 48, resumed: 0, elapsedMs: 8000 })).toBe(
      '[lora] base: 16/48 answers · 8s · ETA 16s',
    );
    // Resumed examples cost nothing: the rate is 8 generated in 4 s.
    expect(evalProgressText('lora', { done: 24, total: 48, resumed: 16, elapsedMs: 4000 })).toBe(
      '[lora] lora: 24/48 answers (16 resumed) · 4s · ETA 12s',
    );
    expect(evalProgressText('lora', { done: 48, total: 48, resumed: 0, elapsedMs: 61_000 })).toBe('[lora] lora: 48/48 answers · 1m01s');
    expect(evalProgressText('x', { done: 4, total: 8, resumed: 4, elapsedMs: 0 })).toContain('ETA ?');
    // A pipeline's own label (compareAdapter's `label`).
    expect(evalProgressText('base', { done: 16, total: 192, resumed: 0, elapsedMs: 20_000 }, '[carbot]')).toBe(
      '[carbot] base: 16/192 answers · 20s · ETA 3m40s',
    );
  });
});
