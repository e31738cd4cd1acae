import { open, readFile, stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FileFormatError, ggufEndOfGenerationTokenIds } from '@lora/core';
import type { CausalLM } from './architectures/causal-lm.js';
import { createCausalLM } from './architectures/registry.js';
import { readGenerationEosTokenIds, withGenerationEosTokenIds } from './config/generation-config.js';
import { type ModelConfig, parseModelConfig } from './config/model-config.js';
import { ggufToHfConfig } from './io/gguf/gguf-config.js';
import { GgufWeightSource } from './io/gguf/gguf-weight-source.js';
import { openWeights } from './io/sharded.js';
import { readLlama2cCheckpoint } from './llama2c/checkpoint.js';

/** A model loaded from disk. */
export interface LoadedModel {
  model: CausalLM;
  config: ModelConfig;
  /** The folder or file it was loaded from. */
  path: string;
  /** `safetensors` (Hugging Face folder), `gguf` (llama.cpp file, dequantized) or `llama2c` (legacy `.bin`). */
  format: 'safetensors' | 'gguf' | 'llama2c';
}

/**
 * Loads a causal LM from a local path: a Hugging Face folder (`config.json` +
 * `model.safetensors` or a sharded index), a GGUF file (llama.cpp; weights dequantized to
 * float32, config from its metadata via `ggufToHfConfig`) or a folder without `config.json`
 * holding exactly one `.gguf`, a llama2.c legacy checkpoint file, or a folder holding one (e.g.
 * `stories260K/` with `stories260K.bin`). Resolve names to paths with `resolveAsset`. The
 * `eos_token_id` of a folder's `generation_config.json`, or a GGUF file's EOS and end-of-turn ids,
 * become `config.generationEosTokenIds`, where `generate` stops by default.
 *
 * @example
 * ```ts
 * const { model } = await loadModel(await resolveAsset('stories260K', { kind: 'model' }));
 * const smol = await loadModel(await resolveAsset('SmolLM2-135M-Instruct', { kind: 'model' })); // format 'gguf'
 * ```
 */
export async function loadModel(path: string): Promise<LoadedModel> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new FileFormatError({ file: path, message: 'no such file or folder.' });
  if (info.isFile()) return path.toLowerCase().endsWith('.gguf') || (await isGguf(path)) ? loadGguf(path) : loadLlama2c(path);
  const configPath = join(path, 'config.json');
  const configText = await readFile(configPath, 'utf8').catch(() => undefined);
  if (configText !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(configText);
    } catch (error) {
      throw new FileFormatError({ file: configPath, message: `invalid JSON: ${(error as Error).message}`, cause: error });
    }
    const config = withGenerationEosTokenIds(parseModelConfig(json, { file: configPath }), await readGenerationEosTokenIds(path));
    const weights = await openWeights(path);
    try {
      const model = await createCausalLM(config, weights, path);
      return { model, config, path, format: 'safetensors' };
    } finally {
      await weights.close();
    }
  }
  const entries = await readdir(path);
  const ggufs = entries.filter((f) => f.toLowerCase().endsWith('.gguf')).sort();
  if (ggufs.length === 1) return loadGguf(join(path, ggufs[0] as string));
  if (ggufs.length > 1) {
    throw new FileFormatError({ file: path, message: `several GGUF files (${ggufs.join(', ')}) and no config.json: pass the file itself.` });
  }
  const bins = entries.filter((f) => f.endsWith('.bin') && !/^tok(enizer)?\d*\.bin$/.test(f)).sort();
  if (bins.length === 1) return loadLlama2c(join(path, bins[0] as string));
  throw new FileFormatError({
    file: path,
    message:
      bins.length === 0
        ? 'found neither config.json (Hugging Face), a .gguf file nor a llama2.c .bin checkpoint.'
        : `several llama2.c checkpoints (${bins.join(', ')}): pass the file itself.`,
  });
}

async function loadLlama2c(file: string): Promise<LoadedModel> {
  const checkpoint = await readLlama2cCheckpoint(file);
  const config = parseModelConfig(checkpoint.config, { file });
  const model = await createCausalLM(config, checkpoint.weights, file);
  return { model, config, path: file, format: 'llama2c' };
}

/** True when the file starts with the GGUF magic. */
async function isGguf(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = new Uint8Array(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    return bytesRead === 4 && String.fromCharCode(...head) === 'GGUF';
  } finally {
    await handle.close();
  }
}

async function loadGguf(file: string): Promise<LoadedModel> {
  const weights = await GgufWeightSource.open(file);
  try {
    const ropeFreqs = await weights.ropeFreqs();
    const parsed = parseModelConfig(ggufToHfConfig(weights.gguf, ropeFreqs === undefined ? {} : { ropeFreqs }), { file });
    const stopIds = ggufEndOfGenerationTokenIds(weights.gguf.metadata);
    const config = withGenerationEosTokenIds(parsed, stopIds.length === 0 ? undefined : stopIds);
    const model = await createCausalLM(config, weights, file);
    return { model, config, path: file, format: 'gguf' };
  } finally {
    await weights.close();
  }
}
