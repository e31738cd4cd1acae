import { LoraError, type LoraErrorOptions } from '@lora/core';

const name = 'CheckpointWriteError';
const symbol = Symbol.for(`lora.error.${name}`);

const REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'an I/O error',
  ENOTDIR: 'a parent of the output folder is not a folder',
};

/**
 * A checkpoint could not be written (disk full, quota, permissions, …). Nothing half-written is
 * left behind: `resumeFrom` names the last complete checkpoint, if any.
 */
export class CheckpointWriteError extends LoraError {
  readonly [symbol] = true;
  /** Optimizer step of the checkpoint that failed. */
  readonly step: number;
  /** The file (or folder) being written when it failed. */
  readonly path: string;
  /** The system error code (`ENOSPC`, `EACCES`, …), when there is one. */
  readonly code: string | undefined;
  /** Last complete checkpoint, if any. */
  readonly resumeFrom: string | undefined;

  constructor(
    options: { step: number; path: string; code: string | undefined; reason: string; resumeFrom: string | undefined } & LoraErrorOptions,
  ) {
    const why = options.code === undefined ? options.reason : `${REASONS[options.code] ?? options.reason} (${options.code})`;
    super(
      `cannot write the checkpoint of step ${options.step}: ${why} while writing ${options.path}. ` +
        (options.resumeFrom === undefined
          ? 'No earlier checkpoint exists; free space (or choose another output folder) and start again.'
          : `The checkpoint ${options.resumeFrom} is intact: free space (or lower \`saveTotalLimit\`) and resume from it.`),
      options,
    );
    this.name = name;
    this.step = options.step;
    this.path = options.path;
    this.code = options.code;
    this.resumeFrom = options.resumeFrom;
  }

  /** True when `error` is a {@link CheckpointWriteError}. */
  static override isInstance(error: unknown): error is CheckpointWriteError {
    return LoraError.hasMarker(error, `lora.error.${name}`);
  }
}
