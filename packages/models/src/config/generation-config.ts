import { parseJson } from '@lora/core';
import { z } from 'zod';
import type { ModelConfig } from './model-config.js';

/** The part of `generation_config.json` that `@lora/models` reads. */
const GenerationConfigJson = z.looseObject({
  eos_token_id: z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative()), z.null()]).optional(),
});

/**
 * `eos_token_id` of a `generation_config.json` text, as a list; undefined when it does not set it.
 * Platform-neutral half of `readGenerationEosTokenIds` (Node, `read-generation-config.ts`).
 *
 * @throws FileFormatError naming `file` and the field when the JSON is malformed.
 * @internal
 */
export function parseGenerationEosTokenIds(text: string, file: string): number[] | undefined {
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
