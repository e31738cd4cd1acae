import { run } from './program.js';
import type { CliIo } from './io.js';

/** Output of one {@link runCaptured} call. */
export interface CapturedRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `lora <args>` in-process with captured stdout/stderr and the given environment. */
export async function runCaptured(args: readonly string[], env: CliIo['env'] = process.env): Promise<CapturedRun> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { writeOut: (t) => void (stdout += t), writeErr: (t) => void (stderr += t), env };
  const code = await run(['node', 'lora', ...args], io);
  return { code, stdout, stderr };
}
