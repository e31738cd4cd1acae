import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { positiveIntegerFlag } from './flags.js';

describe('positiveIntegerFlag', () => {
  it('returns undefined when absent and the number when valid', () => {
    expect(positiveIntegerFlag('max-steps', undefined)).toBeUndefined();
    expect(positiveIntegerFlag('max-steps', '20')).toBe(20);
  });
  it.each(['0', '-3', '2.5', 'abc', '', ' '])('rejects %j naming the flag', (value) => {
    expect(() => positiveIntegerFlag('max-steps', value)).toThrow(InvalidArgumentError);
    expect(() => positiveIntegerFlag('max-steps', value)).toThrow(/--max-steps/);
  });
});
