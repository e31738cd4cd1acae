import { LoraError } from '@lora/core';

/** Thrown by {@link importOptional} when the package is not installed (a normal fallback). */
export class OptionalPackageMissing extends LoraError {
  constructor(
    readonly packageName: string,
    cause: unknown,
  ) {
    super(`${packageName} is not installed`, { cause });
    this.name = 'OptionalPackageMissing';
  }
}

function isMissing(error: unknown, specifier: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return error.message.includes(specifier);
  // vite-node (vitest) reports unresolvable bare imports with its own wording.
  return /Cannot find (package|module)|Failed to (load|resolve)|Could not resolve/.test(error.message) && error.message.includes(specifier);
}

/**
 * Dynamically imports an optional peer dependency. A package that is not installed throws
 * {@link OptionalPackageMissing}; a package that is installed but fails to load (missing native
 * library, ABI mismatch) rethrows its own error.
 */
export async function importOptional(specifier: string): Promise<unknown> {
  try {
    return (await import(/* @vite-ignore */ specifier)) as unknown;
  } catch (error) {
    if (isMissing(error, specifier)) throw new OptionalPackageMissing(specifier, error);
    throw error;
  }
}
