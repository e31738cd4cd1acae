import { dirname } from 'node:path';
import type { Tokenizer } from '@lora/data';
import type { LoadedModel } from '@lora/models';

/**
 * The tokenizer that goes with a loaded model: `tokenizer.json` (+ `tokenizer_config.json`) in a
 * Hugging Face folder, or the llama2.c `tokenizer.bin` / `tok<N>.bin` next to a legacy checkpoint.
 */
export async function loadModelTokenizer(loaded: LoadedModel): Promise<Tokenizer> {
  const { loadTokenizer } = await import('@lora/data');
  const dir = loaded.format === 'llama2c' ? dirname(loaded.path) : loaded.path;
  return loadTokenizer(dir, { vocabSize: loaded.config.vocabSize });
}

/** Text of `newIds` as it reads after `promptIds` (decoded together, so word-initial spaces are right). */
export function decodeContinuation(tokenizer: Tokenizer, promptIds: readonly number[], newIds: readonly number[]): string {
  const prompt = tokenizer.decode(promptIds);
  const all = tokenizer.decode([...promptIds, ...newIds]);
  return all.startsWith(prompt) ? all.slice(prompt.length) : tokenizer.decode(newIds);
}
