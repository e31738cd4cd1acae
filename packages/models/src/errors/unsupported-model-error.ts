import { LoraError, type LoraErrorOptions } from '@lora/core';

const name = 'UnsupportedModelError';
const symbol = Symbol.for(`lora.error.${name}`);

/** The checkpoint's `model_type` (or a feature it enables) is not supported by `@lora/models`. */
export class UnsupportedModelError extends LoraError {
  readonly [symbol] = true;
  /** The `model_type` or feature name found. */
  readonly modelType: string;

  constructor(options: { modelType: string; message: string } & LoraErrorOptions) {
    super(options.message, options);
    this.name = name;
    this.modelType = options.modelType;
  }

  /** True when `error` is an {@link UnsupportedModelError}. */
  static override isInstance(error: unknown): error is UnsupportedModelError {
    return LoraError.hasMarker(error, `lora.error.${name}`);
  }
}
