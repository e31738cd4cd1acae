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
    throw explainLoadFailure(specifier, error);
  }
}

/**
 * A short reason for an installed package that failed to load. tfjs-node(-gpu) installed with
 * `--ignore-scripts` (as it must be here: its install script downloads from Google storage) has no
 * native addon until it is built, and its own message is a long path into node_modules; the backend
 * line says what to do instead. Other failures keep their error.
 */
export function explainLoadFailure(specifier: string, error: unknown): unknown {
  const text = error instanceof Error ? error.message : String(error);
  if (/tfjs_binding\.node/.test(text) && /can ?not be found|cannot find|no such file/i.test(text)) {
    const setup = specifier.endsWith('-gpu') ? 'tools/tfjs-node/setup.sh --gpu <node_modules>' : 'pnpm setup:tensorflow';
    return new LoraError(`${specifier} is installed but its native addon is not built (${setup}; docs/tensorflow-backend.md)`, {
      cause: error,
    });
  }
  return error;
}
