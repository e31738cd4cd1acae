import { LoraError, type LoraErrorOptions } from './lora-error.js';

const name = 'InvalidArgumentError';
const symbol = Symbol.for(`lora.error.${name}`);

/** A function argument or option has a value the function cannot use. */
export class InvalidArgumentError extends LoraError {
  readonly [symbol] = true;
  /** Name of the offending argument or option. */
  readonly argument: string;

  constructor(options: { argument: string; message: string } & LoraErrorOptions) {
    super(`Invalid argument \`${options.argument}\`: ${options.message}`, options);
    this.name = name;
    this.argument = options.argument;
  }

  /** True when `error` is an {@link InvalidArgumentError}. */
  static override isInstance(error: unknown): error is InvalidArgumentError {
    return LoraError.hasMarker(error, `lora.error.${name}`);
  }
}
