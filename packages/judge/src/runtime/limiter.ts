/** Settings of {@link Limiter}. */
export interface LimiterOptions {
  /** Most calls in flight at once (default 4). */
  concurrency?: number;
  /** Most call starts per minute; calls are spaced 60 000 / rpm ms apart. Unlimited when unset. */
  requestsPerMinute?: number;
}

/**
 * A concurrency limit plus a requests-per-minute limit. Each {@link Limiter.run} waits for a free
 * slot and for its start time, then runs.
 */
export class Limiter {
  private readonly concurrency: number;
  private readonly intervalMs: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private nextStart = 0;

  constructor(options: LimiterOptions = {}) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
    this.intervalMs = options.requestsPerMinute === undefined ? 0 : 60_000 / options.requestsPerMinute;
  }

  /** Runs `task` under both limits. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      if (this.intervalMs > 0) {
        const now = Date.now();
        const start = Math.max(now, this.nextStart);
        this.nextStart = start + this.intervalMs;
        if (start > now) await new Promise((resolve) => setTimeout(resolve, start - now));
      }
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next)
        next(); // hands the slot over; `active` stays the same
      else this.active--;
    }
  }
}
