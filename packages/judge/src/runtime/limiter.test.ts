import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { Limiter } from './limiter.js';

describe('Limiter (p-limit + p-throttle)', () => {
  it('never runs more tasks at once than the concurrency, in arrival order, and frees a slot on failure', async () => {
    const limiter = new Limiter({ concurrency: 2 });
    let active = 0;
    let maxActive = 0;
    const started: number[] = [];
    const results = await Promise.allSettled(
      Array.from({ length: 7 }, (_, i) =>
        limiter.run(async () => {
          started.push(i);
          maxActive = Math.max(maxActive, ++active);
          await sleep(15);
          active--;
          if (i % 3 === 0) throw new Error(`task ${i}`);
          return i;
        }),
      ),
    );
    expect(maxActive).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected']);
  });

  it('spaces starts by 60 000 / rpm ms in every window, also after an idle pause', async () => {
    const limiter = new Limiter({ requestsPerMinute: 1200, concurrency: 8 }); // 50 ms apart
    const starts: number[] = [];
    const task = async () => {
      starts.push(performance.now());
    };
    const first = performance.now();
    await Promise.all(Array.from({ length: 4 }, () => limiter.run(task)));
    await sleep(70); // idle longer than the interval: the next start is free, the one after waits
    const second = performance.now();
    await Promise.all(Array.from({ length: 2 }, () => limiter.run(task)));
    // Start i of a burst is scheduled i intervals after the burst's first call; a timer may fire up to
    // 1 ms early (Date.now() granularity), and a loaded machine only makes starts later.
    const offsets = starts.map((t, i) => t - (i < 4 ? first : second));
    for (const [i, offset] of offsets.entries()) expect(offset, `start ${i}`).toBeGreaterThanOrEqual(50 * (i < 4 ? i : i - 4) - 2);
    expect(starts).toHaveLength(6);
  });

  it('rejects a requests-per-minute limit that is not a positive number', () => {
    for (const rpm of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      let error: unknown;
      try {
        new Limiter({ requestsPerMinute: rpm });
      } catch (e) {
        error = e;
      }
      expect(InvalidArgumentError.isInstance(error), String(rpm)).toBe(true);
      expect((error as Error).message).toMatch(/requestsPerMinute/);
    }
  });
});
