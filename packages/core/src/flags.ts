import { InvalidArgumentError } from './errors/invalid-argument-error.js';

/**
 * Parses a command-line flag that must be a positive integer (`--max-steps 20`); `undefined` when
 * the flag was not given. Throws an {@link InvalidArgumentError} naming the flag otherwise.
 *
 * @example
 * ```ts
 * const maxSteps = positiveIntegerFlag('max-steps', values['max-steps']); // number | undefined
 * ```
 */
export function positiveIntegerFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError({ argument: `--${flag}`, message: `must be a positive integer, got "${value}"` });
  }
  return n;
}
