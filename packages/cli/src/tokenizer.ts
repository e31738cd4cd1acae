import { dirname } from 'node:path';
import type { Tokenizer } from '@lora/data';
import type { LoadedModel } from '@lora/models';

/**
 * The tokenizer that goes with a loaded model: `tokenizer.json` (+ `tokenizer_config.json`) in a
 * Hugging Face folder, the llama2.c `tokenizer.bin` / `tok<N>.bin` next to a legacy checkpoint, or
 * the tokenizer in the metadata of a GGUF file.
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

/**
 * Prompt ids as the tokenizer encodes plain text, special tokens included only where it adds them
 * (its post-processor / `add_bos_token`: BOS for stories260K and Llama 2, nothing for SmolLM2 or
 * Qwen), as transformers' `tokenizer(prompt)` does. An empty prompt starts from the BOS token.
 *
 * @throws InvalidArgumentError when the prompt is empty and the tokenizer has no BOS token.
 */
export async function encodePrompt(tokenizer: Tokenizer, prompt: string): Promise<number[]> {
  const ids = tokenizer.encode(prompt);
  if (ids.length > 0) return ids;
  if (tokenizer.bosTokenId !== undefined) return [tokenizer.bosTokenId];
  const { InvalidArgumentError } = await import('@lora/core');
  throw new InvalidArgumentError({
    argument: '--prompt',
    message: 'the prompt is empty and the tokenizer has no BOS token to start from; give a prompt.',
  });
}

/**
 * The ids a reply stops on: the model's default stop ids (`defaultStopTokenIds(config)` of
 * `@lora/models`: generation_config.json, config.json, or a GGUF file's EOS and end-of-turn ids)
 * and the tokenizer's EOS ids, without repeats.
 */
export function stopTokenIds(tokenizer: Tokenizer, modelStopIds: readonly number[]): number[] {
  return [...new Set([...modelStopIds, ...tokenizer.eosTokenIds])];
}
