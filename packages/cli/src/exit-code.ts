/**
 * Thrown by a command to end `lora` with a given exit code (130 after SIGINT, 143 after SIGTERM,
 * 1 when some items failed) after it has printed what it had to say. `message`, when not empty,
 * is printed as `lora: <message>`.
 */
export class ExitCode extends Error {
  /** The process exit code. */
  readonly code: number;

  constructor(code: number, message = '') {
    super(message);
    this.name = 'ExitCode';
    this.code = code;
  }
}
