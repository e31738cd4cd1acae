import { Command, CommanderError } from 'commander';
import { LoraError } from '@lora/core';
import { registerChat } from './commands/chat.js';
import { registerConvert } from './commands/convert.js';
import { registerDataInspect } from './commands/data-inspect.js';
import { registerEval } from './commands/eval.js';
import { registerExportRecipe } from './commands/export-recipe.js';
import { registerGenerate } from './commands/generate.js';
import { registerJudge } from './commands/judge.js';
import { registerMerge } from './commands/merge.js';
import { registerTrain } from './commands/train.js';
import { registerWorker } from './commands/worker.js';
import { ExitCode } from './exit-code.js';
import { processIo, type CliIo } from './io.js';

/** Registers one command on the program; one per file in `src/commands/`. */
export type RegisterCommand = (program: Command, io: CliIo) => void;

/** Every command of `lora`, in help order. Adding a command = adding a file and a line here. */
const commands: readonly RegisterCommand[] = [
  registerGenerate,
  registerDataInspect,
  registerTrain,
  registerEval,
  registerJudge,
  registerChat,
  registerConvert,
  registerMerge,
  registerExportRecipe,
  registerWorker,
];

/** The CLI version, printed by `lora --version`. */
export const version = '0.1.0';

/**
 * Builds the `lora` commander program with every command registered. Output goes through `io`;
 * commander's own exits are turned into exceptions so {@link run} can return an exit code.
 */
export function buildProgram(io: CliIo = processIo()): Command {
  const program = new Command('lora')
    .description('Fine-tune and run Hugging Face causal LMs on TensorFlow.js.')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.writeOut, writeErr: io.writeErr })
    .exitOverride();
  for (const register of commands) register(program, io);
  const configure = (command: Command): void => {
    for (const sub of command.commands) {
      sub.configureOutput({ writeOut: io.writeOut, writeErr: io.writeErr }).exitOverride();
      configure(sub);
    }
  };
  configure(program);
  return program;
}

/**
 * Runs `lora` with `argv` (as in `process.argv`: node path and script path first) and resolves
 * to the exit code. `@lora` errors and operating-system errors (`ENOSPC: no space left on device,
 * write`) print their message on stderr, without a stack trace; unexpected errors print the stack.
 *
 * @example
 * ```ts
 * process.exitCode = await run(process.argv);
 * ```
 */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof ExitCode) {
      if (error.message !== '') io.writeErr(`lora: ${error.message}\n`);
      return error.code;
    }
    if (LoraError.isInstance(error)) {
      io.writeErr(`lora: ${error.message}\n`);
      return 1;
    }
    if (isSystemError(error)) {
      // A file-system refusal (ENOSPC, EACCES, ENOTDIR, …) is about the user's files, not a bug: no stack.
      io.writeErr(`lora: ${error.message}\n`);
      return 1;
    }
    io.writeErr(`lora: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 2;
  }
}

/** An operating-system error from Node (`code` like `ENOSPC` and the failing `syscall`). */
function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  const e = error as NodeJS.ErrnoException | undefined;
  return e instanceof Error && typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) && typeof e.syscall === 'string';
}
