// Platform-neutral counterpart of load.ts: a model from files already in memory (a browser's
// fetch responses or <input type=file> picks), keyed by file name.
import { AssetNotFoundError, FileFormatError } from '@lora/core';
import { createCausalLM } from './architectures/registry.js';
import { parseGenerationEosTokenIds, withGenerationEosTokenIds } from './config/generation-config.js';
import { parseModelConfig } from './config/model-config.js';
import { BlobFileSource, type FileSource, MemoryFileSource } from './io/file-source.js';
import type { WeightSource } from './io/host-tensor.js';
import { openWeights } from './io/sharded.js';
import { readLlama2cCheckpoint } from './llama2c/checkpoint.js';
import type { LoadedModel, LoadModelOptions } from './load.js';

/** The bytes of one model file: a buffer, or a `Blob` / browser `File` (read lazily, by slices). */
type ModelFileData = Uint8Array | ArrayBuffer | Blob;

function sourceOf(name: string, data: ModelFileData): FileSource {
  return data instanceof Blob ? new BlobFileSource(data, name) : new MemoryFileSource(data, name);
}

async function textOf(name: string, data: ModelFileData): Promise<string> {
  const source = sourceOf(name, data);
  return new TextDecoder().decode(await source.read(0, source.size()));
}

function parseObject(text: string, file: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FileFormatError({ file, message: `invalid JSON: ${(error as Error).message}`, cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new FileFormatError({ file, message: 'expected a JSON object.' });
  return json as Record<string, unknown>;
}

/**
 * Loads a causal LM from files in memory, keyed by file name, where `loadModel` needs a path: a
 * Hugging Face model (`config.json` + `model.safetensors`, or `model.safetensors.index.json` and
 * its shards; `generation_config.json` read when present) or a llama2.c legacy checkpoint (one
 * `.bin` other than `tok*.bin` / `tokenizer.bin`). Works in browsers (this is what the
 * `browser` entry offers instead of `loadModel`) and in Node. GGUF files need `loadModel`.
 *
 * @param files - file name → bytes, `Blob` or `File` (e.g. from `fetch(url).then((r) => r.arrayBuffer())`).
 * @param options - as {@link loadModel}'s; `nameOrPath` defaults to `'<memory>'`.
 * @throws FileFormatError when the files hold no model, an ambiguous one, or malformed JSON;
 *   AssetNotFoundError naming the missing weights file.
 * @example
 * ```ts
 * const bytes = async (url: string) => new Uint8Array(await (await fetch(url)).arrayBuffer());
 * const { model } = await loadModelFromFiles({ 'stories260K.bin': await bytes('/models/stories260K.bin') });
 * ```
 */
export async function loadModelFromFiles(
  files: Readonly<Record<string, Uint8Array | ArrayBuffer | Blob>>,
  options: LoadModelOptions = {},
): Promise<LoadedModel> {
  const names = Object.keys(files);
  let format: LoadedModel['format'];
  let configJson: Record<string, unknown>;
  let configFile: string;
  let weights: WeightSource;
  let generationEosTokenIds: number[] | undefined;
  const configData = files['config.json'];
  if (configData !== undefined) {
    format = 'safetensors';
    configFile = 'config.json';
    configJson = parseObject(await textOf(configFile, configData), configFile);
    const generation = files['generation_config.json'];
    if (generation !== undefined) {
      generationEosTokenIds = parseGenerationEosTokenIds(await textOf('generation_config.json', generation), 'generation_config.json');
    }
    weights = await openWeights('', {
      openFile: async (name) => {
        const data = files[name];
        if (data === undefined) throw new AssetNotFoundError({ asset: name, searched: names });
        return sourceOf(name, data);
      },
    });
  } else {
    const bins = names.filter((f) => f.endsWith('.bin') && !/^tok(enizer)?\d*\.bin$/.test(f)).sort();
    if (bins.length !== 1) {
      throw new FileFormatError({
        file: names.join(', ') || '(no files)',
        message:
          bins.length === 0
            ? 'found neither config.json (Hugging Face) nor a llama2.c .bin checkpoint.'
            : `several llama2.c checkpoints (${bins.join(', ')}): pass one.`,
      });
    }
    const name = bins[0] as string;
    const checkpoint = await readLlama2cCheckpoint(sourceOf(name, files[name] as ModelFileData));
    format = 'llama2c';
    configFile = name;
    configJson = { ...checkpoint.config };
    weights = checkpoint.weights;
  }
  try {
    const parsed = parseModelConfig(configJson, { file: configFile });
    const config = Object.freeze({
      ...withGenerationEosTokenIds(parsed, generationEosTokenIds),
      nameOrPath: options.nameOrPath ?? '<memory>',
    });
    await options.beforeWeights?.(config);
    const path = format === 'llama2c' ? configFile : '<memory>';
    const model = await createCausalLM(config, weights, path, options.onWarning === undefined ? {} : { onWarning: options.onWarning });
    return { model, config, path, format, quantizedLayers: 0 };
  } finally {
    await weights.close();
  }
}
