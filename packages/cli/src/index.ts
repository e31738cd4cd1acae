/**
 * The `lora` command line as a library: {@link run} executes a command line and resolves to the
 * exit code; {@link buildProgram} returns the commander program for embedding or extension.
 *
 * @packageDocumentation
 */
export { run, buildProgram, version, type RegisterCommand } from './program.js';
export { processIo, type CliIo } from './io.js';
export { registerGenerate, type GenerateOptions } from './commands/generate.js';
