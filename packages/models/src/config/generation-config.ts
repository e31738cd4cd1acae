import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseJson, readRegularTextFile } from '@lora/core';
import { z } from 'zod';
import type { ModelConfig } from './model-config.js';

/** The part of `generation_config.json` that `@lora/models` reads. */
const GenerationConfigJson = z.looseObject({
  eos_token_id: z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative()), z.null()]).optional(),
});

/**
 * `eos_token_id` of the `generation_config.json` in a model folder, as a list; undefined when the
 * file is absent or does not set it.
 *
 * @throws FileFormatError naming the file and field when the file is malformed.
 * @internal
 */
export async function readGenerationEosTokenIds(dir: string): Promise<number[] | undefined> {
  const file = join(dir, 'generation_config.json');
  if ((await stat(file).catch(() => undefined)) === undefined) return undefined;
  const text = await readRegularTextFile(file, 'generation config');
  const eos = parseJson(text, GenerationConfigJson, { file }).eos_token_id;
  if (eos == null) return undefined;
  return Array.isArray(eos) ? eos : [eos];
}

/**
 * The ids `generate` stops on when the caller gives none, as transformers' `generate` uses its
 * `generation_config`: `config.generationEosTokenIds` (from `generation_config.json`, or a GGUF
 * file's EOS and end-of-turn ids) when set, else `config.eosTokenIds` (`config.json`).
 *
 * @example
 * ```ts
 * const { model, config } = await loadModel(dir);
 * defaultStopTokenIds(config); // e.g. [128001, 128008, 128009] for Llama 3.1 Instruct
 * ```
 */
export function defaultStopTokenIds(config: Pick<ModelConfig, 'eosTokenIds' | 'generationEosTokenIds'>): readonly number[] {
  return config.generationEosTokenIds ?? config.eosTokenIds;
}

/** `config` with `generationEosTokenIds` set (unchanged when `ids` is undefined). @internal */
export function withGenerationEosTokenIds(config: ModelConfig, ids: readonly number[] | undefined): ModelConfig {
  return ids === undefined ? config : Object.freeze({ ...config, generationEosTokenIds: Object.freeze([...ids]) });
}
