import { LoraError, type LoraErrorOptions } from '@lora/core';

const name = 'RunFolderError';
const symbol = Symbol.for(`lora.error.${name}`);

/**
 * A training refused to write into its output folder: the folder already holds a run and neither
 * `resume` nor `overwrite` was asked for (`reason: 'has-run'`), or another training holds the
 * folder's lock (`reason: 'locked'`). Nothing in the folder was changed.
 */
export class RunFolderError extends LoraError {
  readonly [symbol] = true;
  /** The output folder. */
  readonly dir: string;
  /** `has-run`: run files found; `locked`: another process trains into it. */
  readonly reason: 'has-run' | 'locked';
  /** The run files found (`has-run`). */
  readonly files: readonly string[];
  /** Process id and host of the lock holder (`locked`). */
  readonly holder: { readonly pid: number; readonly hostname: string } | undefined;

  constructor(
    options:
      | { dir: string; reason: 'has-run'; files: readonly string[] }
      | ({ dir: string; reason: 'locked'; holder: { pid: number; hostname: string }; lockFile: string } & LoraErrorOptions),
  ) {
    const shown = options.reason === 'has-run' ? options.files.slice(0, 5).join(', ') + (options.files.length > 5 ? ', …' : '') : '';
    super(
      options.reason === 'has-run'
        ? `${options.dir} already holds a training run (${shown}). Resume it (--resume, \`resume\`), replace it (--overwrite, \`overwrite: true\`: deletes the old run files first), or choose another output folder.`
        : `${options.dir} is in use by another training: pid ${options.holder.pid} on ${options.holder.hostname} holds ${options.lockFile}. Wait for it to finish, or stop it; if that process is gone (another host), delete the lock file.`,
      options.reason === 'locked' ? options : {},
    );
    this.name = name;
    this.dir = options.dir;
    this.reason = options.reason;
    this.files = options.reason === 'has-run' ? options.files : [];
    this.holder = options.reason === 'locked' ? options.holder : undefined;
  }

  /** True when `error` is a {@link RunFolderError}. */
  static override isInstance(error: unknown): error is RunFolderError {
    return LoraError.hasMarker(error, `lora.error.${name}`);
  }
}
