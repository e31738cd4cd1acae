import { LoraError, type LoraErrorOptions } from '@lora/core';

const name = 'LoadApiKeyError';
const symbol = Symbol.for(`lora.error.${name}`);

/** No API key was passed and none was found in the environment. The message names the variables to set. */
export class LoadApiKeyError extends LoraError {
  readonly [symbol] = true;

  constructor(options: { message: string } & LoraErrorOptions) {
    super(options.message, options);
    this.name = name;
  }

  /** True when `error` is a {@link LoadApiKeyError}. */
  static override isInstance(error: unknown): error is LoadApiKeyError {
    return LoraError.hasMarker(error, `lora.error.${name}`);
  }
}
