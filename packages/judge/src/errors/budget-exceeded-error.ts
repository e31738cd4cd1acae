import { LoraError, type LoraErrorOptions } from '@lora/core';

const name = 'BudgetExceededError';
const symbol = Symbol.for(`lora.error.${name}`);

/**
 * The judge stopped issuing calls because a budget cap (`maxCalls` or `maxCostUsd`) was reached.
 * Answers already in the cache are still served; raise the cap or rerun to continue (the cache
 * keeps what was paid for).
 */
export class BudgetExceededError extends LoraError {
  readonly [symbol] = true;
  /** Which cap was hit. */
  readonly limit: 'calls' | 'cost';
  /** Calls made before stopping. */
  readonly callsMade: number;
  /** Cost spent before stopping, in USD. */
  readonly costUsd: number;

  constructor(options: { limit: 'calls' | 'cost'; callsMade: number; costUsd: number; cap: number } & LoraErrorOptions) {
    const what = options.limit === 'calls' ? `${options.cap} calls` : `${options.cap} USD`;
    super(
      `judge budget of ${what} reached after ${options.callsMade} calls costing ${options.costUsd.toFixed(4)} USD; ` +
        `raise \`${options.limit === 'calls' ? 'maxCalls' : 'maxCostUsd'}\` and rerun (cached answers are reused)`,
      options,
    );
    this.name = name;
    this.limit = options.limit;
    this.callsMade = options.callsMade;
    this.costUsd = options.costUsd;
  }

  /** True when `error` is a {@link BudgetExceededError}. */
  static override isInstance(error: unknown): error is BudgetExceededError {
    return LoraError.hasMarker(error, `lora.error.${name}`);
  }
}
