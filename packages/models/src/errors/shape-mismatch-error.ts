import { LoraError, type LoraErrorOptions } from '@lora/core';

const name = 'ShapeMismatchError';
const symbol = Symbol.for(`lora.error.${name}`);

/** A weight in a checkpoint has a shape other than the configuration implies. */
export class ShapeMismatchError extends LoraError {
  readonly [symbol] = true;
  /** Tensor name, as in the checkpoint. */
  readonly key: string;
  /** Shape the configuration implies. */
  readonly expectedShape: readonly number[];
  /** Shape found in the checkpoint. */
  readonly actualShape: readonly number[];

  constructor(
    options: { key: string; expectedShape: readonly number[]; actualShape: readonly number[]; file?: string } & LoraErrorOptions,
  ) {
    const where = options.file === undefined ? '' : `${options.file}: `;
    super(
      `${where}tensor "${options.key}" has shape [${options.actualShape.join(', ')}] but the config implies [${options.expectedShape.join(', ')}]. HINT: check that config.json belongs to these weights.`,
      options,
    );
    this.name = name;
    this.key = options.key;
    this.expectedShape = options.expectedShape;
    this.actualShape = options.actualShape;
  }

  /** True when `error` is a {@link ShapeMismatchError}. */
  static override isInstance(error: unknown): error is ShapeMismatchError {
    return LoraError.hasMarker(error, `lora.error.${name}`);
  }
}
