/**
 * The `lora` command line as a library: {@link run} executes a command line and resolves to the
 * exit code; {@link version} is the CLI's version.
 *
 * @packageDocumentation
 */
export { run, version } from './program.js';
export type { CliIo } from './io.js';
