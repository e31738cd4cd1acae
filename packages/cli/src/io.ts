import { progressLine, type ProgressLine } from '@lora/core/internal';

/**
 * Where a command writes and what it reads from the environment. `run()` takes one so tests and
 * embedding programs can capture output instead of going through `process`.
 */
export interface CliIo {
  /** Receives the command's result (for `generate`: only the generated text). */
  writeOut(text: string): void;
  /** Receives diagnostics: the backend line, progress, errors. */
  writeErr(text: string): void;
  /** Environment variables (`LORA_ASSETS_DIR`, `LORA_BACKEND`, `HF_TOKEN`, ...). */
  env: Readonly<Record<string, string | undefined>>;
  /** Whether `writeErr` goes to a terminal: progress is a bar there, one line per update elsewhere. */
  errIsTTY?: boolean;
  /** Width of that terminal. */
  errColumns?: number;
}

/** The progress display of a command on `io`'s stderr: `progressLine` of `@lora/core`, as training uses. */
export function progressOf(io: CliIo): ProgressLine {
  return progressLine({
    stream: {
      write: (text) => io.writeErr(text),
      ...(io.errIsTTY === undefined ? {} : { isTTY: io.errIsTTY }),
      ...(io.errColumns === undefined ? {} : { columns: io.errColumns }),
    },
  });
}

/** The {@link CliIo} of the current process: `process.stdout`, `process.stderr`, `process.env`. */
export function processIo(): CliIo {
  return {
    writeOut: (text) => void process.stdout.write(text),
    writeErr: (text) => void process.stderr.write(text),
    env: process.env,
    errIsTTY: process.stderr.isTTY === true,
    ...(process.stderr.columns === undefined ? {} : { errColumns: process.stderr.columns }),
  };
}
