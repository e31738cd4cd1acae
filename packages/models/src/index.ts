/**
 * Hugging Face causal LMs on TensorFlow.js: `config.json` parsing, safetensors IO, backend
 * selection, Llama / Mistral / Qwen3 / Gemma 3 decoders, KV-cache generation, log-probability
 * scoring and llama2.c import. Ids in, tensors out — tokenizers live in `@lora/data`.
 *
 * @example
 * ```ts
 * import { selectBackend, loadModel, generate } from '@lora/models';
 * await selectBackend();
 * const { model, config } = await loadModel('/models/Qwen3-0.6B');
 * const { sequences } = await generate(model, [[config.bosTokenId ?? 1]], { maxNewTokens: 32 });
 * ```
 *
 * @packageDocumentation
 */
export * from './index.browser.js';

// Node only (files by path): left out of the browser entry.
export { writeHfCheckpoint, writeJsonAtomic, type HfCheckpointInput } from './io/hf-checkpoint-writer.js';
export { writeShardedSafetensors, DEFAULT_MAX_SHARD_SIZE, type ShardedWriteOptions } from './io/sharded-writer.js';
export { loadModel, openCheckpoint, type LoadedModel, type LoadModelOptions, type OpenedCheckpoint } from './load.js';
