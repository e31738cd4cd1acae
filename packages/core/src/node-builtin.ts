import { LoraError } from './errors/lora-error.js';

/** The Node built-in modules that `@lora` code shared with browsers loads on demand. */
export interface NodeBuiltins {
  fs: typeof import('node:fs');
  'fs/promises': typeof import('node:fs/promises');
  os: typeof import('node:os');
  path: typeof import('node:path');
}

interface NodeProcess {
  versions?: { node?: string };
  getBuiltinModule?: (id: string) => unknown;
}

/**
 * Loads a Node built-in module when first needed, so code that browsers also run (a class with
 * one file-system method, say) carries no `node:` import a browser bundler would have to resolve.
 * Uses `process.getBuiltinModule` (Node ≥ 20.16) or, on older Node, a dynamic import whose
 * specifier bundlers leave alone.
 *
 * @param id - the module, without the `node:` prefix.
 * @param feature - what needs it, for the error outside Node (e.g. `'saveAdapter(dir)'`).
 * @throws `LoraError` outside Node, naming `feature` and the byte-based alternative.
 * @example
 * ```ts
 * const { readFile } = await nodeBuiltin('fs/promises', 'readAdapterConfig(dir)');
 * ```
 */
export async function nodeBuiltin<K extends keyof NodeBuiltins>(id: K, feature: string): Promise<NodeBuiltins[K]> {
  const process = (globalThis as { process?: NodeProcess }).process;
  if (process?.versions?.node === undefined) {
    throw new LoraError(
      `${feature} reads or writes files and needs Node.js; in a browser use the byte-based API (MemoryFileSource, BlobFileSource, loadModelFromFiles, PeftModel.adapterFiles).`,
    );
  }
  const specifier = `node:${id}`;
  const builtin = process.getBuiltinModule?.(specifier);
  if (builtin !== undefined) return builtin as NodeBuiltins[K];
  return (await import(/* @vite-ignore */ specifier)) as NodeBuiltins[K];
}
