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
}

/** The {@link CliIo} of the current process: `process.stdout`, `process.stderr`, `process.env`. */
export function processIo(): CliIo {
  return {
    writeOut: (text) => void process.stdout.write(text),
    writeErr: (text) => void process.stderr.write(text),
    env: process.env,
  };
}
