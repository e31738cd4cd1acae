import { InvalidArgumentError } from '@lora/core';
import pLimit, { type LimitFunction } from 'p-limit';
import pThrottle from 'p-throttle';

/** Settings of {@link Limiter}. */
export interface LimiterOptions {
  /** Most calls in flight at once (default 4). */
  concurrency?: number;
  /** Most call starts per minute; calls are spaced 60 000 / rpm ms apart. Unlimited when unset. */
  requestsPerMinute?: number;
}

/**
 * A concurrency limit (`p-limit`, first come first served) plus a requests-per-minute limit
 * (`p-throttle` in strict mode: one start per 60 000 / rpm ms, in every window, not per fixed
 * window). Each {@link Limiter.run} waits for a free slot, then, inside the slot, for its start
 * time, then runs; the slot is handed on only when the task has settled.
 */
export class Limiter {
  private readonly limit: LimitFunction;
  private readonly start: () => Promise<void>;

  constructor(options: LimiterOptions = {}) {
    this.limit = pLimit(Math.max(1, Math.floor(options.concurrency ?? 4)));
    const rpm = options.requestsPerMinute;
    if (rpm !== undefined && !(Number.isFinite(rpm) && rpm > 0)) {
      throw new InvalidArgumentError({ argument: 'requestsPerMinute', message: `expected a number > 0, got ${rpm}.` });
    }
    this.start = rpm === undefined ? async () => {} : pThrottle({ limit: 1, interval: 60_000 / rpm, strict: true })(async () => {});
  }

  /** Runs `task` under both limits. */
  run<T>(task: () => Promise<T>): Promise<T> {
    return this.limit(async () => {
      await this.start();
      return task();
    });
  }
}
