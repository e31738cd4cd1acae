const marker = 'lora.error';
const symbol = Symbol.for(marker);

/** Options shared by every {@link LoraError}. */
export interface LoraErrorOptions {
  /** The underlying error, kept as the standard `cause`. */
  cause?: unknown;
}

/**
 * Base class of every error thrown by `@lora` packages.
 *
 * `LoraError.isInstance(e)` works across duplicate installs of the package (it checks a
 * `Symbol.for` marker rather than the prototype chain), so prefer it to `instanceof`.
 *
 * @example
 * ```ts
 * try { await loadModel('missing'); } catch (e) { if (LoraError.isInstance(e)) console.error(e.message); }
 * ```
 */
export class LoraError extends Error {
  readonly [symbol] = true;

  constructor(message: string, options: LoraErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LoraError';
  }

  /** True when `error` is any `@lora` error, whichever copy of the package created it. */
  static isInstance(error: unknown): error is LoraError {
    return LoraError.hasMarker(error, marker);
  }

  /** @internal Checks the per-class marker `Symbol.for(name)` on `error`. */
  protected static hasMarker(error: unknown, markerName: string): boolean {
    if (error == null || typeof error !== 'object') return false;
    const key = Symbol.for(markerName);
    return key in error && (error as Record<symbol, unknown>)[key] === true;
  }
}
