import { LoraError, type LoraErrorOptions } from './lora-error.js';

const name = 'AssetNotFoundError';
const symbol = Symbol.for(`lora.error.${name}`);

/** A model or data set could not be found by the asset resolver; `searched` lists where it looked. */
export class AssetNotFoundError extends LoraError {
  readonly [symbol] = true;
  /** The name that was asked for. */
  readonly asset: string;
  /** Every location tried, in order. */
  readonly searched: readonly string[];

  constructor(options: { asset: string; searched: readonly string[]; hint?: string } & LoraErrorOptions) {
    const lines = options.searched.map((s) => `  - ${s}`).join('\n');
    const hint = options.hint === undefined ? '' : `\nHINT: ${options.hint}`;
    super(`Asset "${options.asset}" not found. Looked in:\n${lines}${hint}`, options);
    this.name = name;
    this.asset = options.asset;
    this.searched = options.searched;
  }

  /** True when `error` is an {@link AssetNotFoundError}. */
  static override isInstance(error: unknown): error is AssetNotFoundError {
    return LoraError.hasMarker(error, `lora.error.${name}`);
  }
}
