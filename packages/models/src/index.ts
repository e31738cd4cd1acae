/**
 * Hugging Face causal LMs on TensorFlow.js: `config.json` parsing, safetensors IO, backend
 * selection, Llama / Mistral / Qwen3 / Gemma 3 decoders, KV-cache generation, log-probability
 * scoring and llama2.c import. Ids in, tensors out — tokenizers live in `@lora/data`. Layers,
 * weight readers and writers the other `@lora` packages build on are in `@lora/models/internal`,
 * which is not covered by semver.
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
export { writeHfCheckpoint, type HfCheckpointInput } from './io/hf-checkpoint-writer.js';
export { loadModel, openCheckpoint, type LoadedModel, type OpenedCheckpoint } from './load.js';
