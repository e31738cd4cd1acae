import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LoraError } from '@lora/core';
import type { LoadedModel, TextTokenizer } from '@lora/models';

/**
 * The tokenizer that goes with a loaded model. llama2.c checkpoints use the `tokenizer.bin` /
 * `tok<N>.bin` file next to them; Hugging Face folders need `tokenizer.json` (via @lora/data).
 */
export async function loadTokenizer(loaded: LoadedModel): Promise<TextTokenizer> {
  if (loaded.format === 'llama2c') {
    const dir = dirname(loaded.path);
    const files = (await readdir(dir)).filter((f) => /^tok(enizer)?\d*\.bin$/.test(f)).sort();
    const file = files[0];
    if (file === undefined || files.length > 1) {
      throw new LoraError(
        `${dir}: expected exactly one llama2.c tokenizer (tokenizer.bin or tok<N>.bin) next to ${loaded.path}, found ${files.length === 0 ? 'none' : files.join(', ')}.`,
      );
    }
    const { Llama2cTokenizer } = await import('@lora/models');
    return Llama2cTokenizer.fromFile(join(dir, file), { vocabSize: loaded.config.vocabSize });
  }
  throw new LoraError(
    `${loaded.path}: text generation from Hugging Face folders needs tokenizer.json support from @lora/data, which the CLI does not wire up yet. Use a llama2.c model (e.g. stories260K) for now.`,
  );
}

/** Text of `newIds` as it reads after `promptIds` (decoded together, so word-initial spaces are right). */
export function decodeContinuation(tokenizer: TextTokenizer, promptIds: readonly number[], newIds: readonly number[]): string {
  const prompt = tokenizer.decode(promptIds);
  const all = tokenizer.decode([...promptIds, ...newIds]);
  return all.startsWith(prompt) ? all.slice(prompt.length) : tokenizer.decode(newIds);
}
