import { LoraError, type LoraErrorOptions } from '@lora/core';

const name = 'NonFiniteError';
const symbol = Symbol.for(`lora.error.${name}`);

/**
 * The loss or a gradient became NaN or ±Infinity during training (with `onNonFinite: 'stop'`).
 * No checkpoint was written for that step; `resumeFrom` names the last good one.
 */
export class NonFiniteError extends LoraError {
  readonly [symbol] = true;
  /** Optimizer step (1-based) whose loss or gradient was not finite. */
  readonly step: number;
  /** What was not finite: `the loss` or `the gradient norm`. */
  readonly what: string;
  /** Last checkpoint written before it, if any. */
  readonly resumeFrom: string | undefined;

  constructor(options: { step: number; what: string; resumeFrom: string | undefined } & LoraErrorOptions) {
    super(
      `step ${options.step}: ${options.what} is not finite (NaN or Inf); stopped without writing a checkpoint. ` +
        (options.resumeFrom === undefined
          ? 'No checkpoint was written yet: restart with a lower learning rate or `maxGradNorm`.'
          : `Resume from ${options.resumeFrom} with a lower learning rate, or set \`onNonFinite: 'skip'\`.`),
      options,
    );
    this.name = name;
    this.step = options.step;
    this.what = options.what;
    this.resumeFrom = options.resumeFrom;
  }

  /** True when `error` is a {@link NonFiniteError}. */
  static override isInstance(error: unknown): error is NonFiniteError {
    return LoraError.hasMarker(error, `lora.error.${name}`);
  }
}
