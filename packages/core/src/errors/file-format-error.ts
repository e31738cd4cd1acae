import { LoraError, type LoraErrorOptions } from './lora-error.js';

const name = 'FileFormatError';
const symbol = Symbol.for(`lora.error.${name}`);

/**
 * A file does not have the format it should: a bad header, out-of-bounds offsets, a missing
 * tensor, a malformed record. The message names the file and, where known, the line, tensor
 * or field.
 */
export class FileFormatError extends LoraError {
  readonly [symbol] = true;
  /** Path (or name) of the file. */
  readonly file: string;
  /** 1-based line number, for text formats. */
  readonly line: number | undefined;
  /** Tensor, key or field path the problem is about. */
  readonly field: string | undefined;

  constructor(options: { file: string; message: string; line?: number; field?: string } & LoraErrorOptions) {
    const where = [options.file, options.line === undefined ? undefined : String(options.line)].filter((x) => x !== undefined).join(':');
    const what = options.field === undefined ? '' : ` (${options.field})`;
    super(`${where}${what}: ${options.message}`, options);
    this.name = name;
    this.file = options.file;
    this.line = options.line;
    this.field = options.field;
  }

  /** True when `error` is a {@link FileFormatError}. */
  static override isInstance(error: unknown): error is FileFormatError {
    return LoraError.hasMarker(error, `lora.error.${name}`);
  }
}
