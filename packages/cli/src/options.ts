import { InvalidArgumentError as CommanderArgumentError } from 'commander';

/** Commander parser of an integer option `>= min`. */
export function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new CommanderArgumentError(`expected an integer >= ${min}, got "${value}".`);
    return n;
  };
}

/** Commander parser of a number option in `[min, max]`. */
export function real(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new CommanderArgumentError(`expected a number in [${min}, ${max}], got "${value}".`);
    }
    return n;
  };
}
