import { open, stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FileFormatError, InvalidArgumentError } from '@lora/core';
import * as tf from '@tensorflow/tfjs';
import { type GgufFile, ggufEndOfGenerationTokenIds, readRegularTextFile } from '@lora/core/internal';
import type { CausalLM } from './architectures/causal-lm.js';
import { createCausalLM } from './architectures/registry.js';
import type { LinearRequest } from './architectures/weight-reader.js';
import { ggmlKernelsActive } from './backend/native-kernel-names.js';
import { nativeOpsStatus } from './backend/native-ops.js';
import { ShapeMismatchError } from './errors/shape-mismatch-error.js';
import { GGML_KERNEL_TYPES, GgmlLinear } from './layers/ggml-linear.js';
import { withGenerationEosTokenIds } from './config/generation-config.js';
import { readGenerationEosTokenIds } from './config/read-generation-config.js';
import { type ModelConfig, parseModelConfig } from './config/model-config.js';
import { ggufToHfConfig } from './io/gguf/gguf-config.js';
import { GgufWeightSource } from './io/gguf/gguf-weight-source.js';
import type { WeightSource } from './io/host-tensor.js';
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
  /** Linear layers kept in their GGUF blocks (see `keepQuantized`); 0 when every weight was dequantized. */
  quantizedLayers: number;
}

/** A checkpoint opened without building a model: its config (as `config.json` holds it) and weights. */
export interface OpenedCheckpoint {
  /** The file or folder the weights come from (a `.gguf` / `.bin` file, or a Hugging Face folder). */
  readonly path: string;
  readonly format: LoadedModel['format'];
  /** The Hugging Face `config.json` object (read, or derived from GGUF metadata / the llama2.c header). */
  readonly configJson: Record<string, unknown>;
  /** The file `configJson` came from, for error messages. */
  readonly configFile: string;
  /** The weights under Hugging Face names, `[out, in]` layout, decoded to float32 on read. Close when done. */
  readonly weights: WeightSource;
  /** The GGUF header, for a GGUF checkpoint (tokenizer metadata, chat template). */
  readonly gguf?: GgufFile;
  /** Ids generation stops at (`generation_config.json`'s `eos_token_id`, or GGUF EOS + end-of-turn), when given. */
  readonly generationEosTokenIds?: readonly number[];
}

/**
 * Opens a checkpoint for reading without building a model: a Hugging Face folder, a GGUF file or
 * a llama2.c `.bin` (or a folder without `config.json` holding exactly one of those). This is
 * what {@link loadModel} builds on, and what `lora convert` writes out as a Hugging Face folder.
 *
 * @throws FileFormatError when the path holds no checkpoint or an ambiguous one.
 */
export async function openCheckpoint(path: string): Promise<OpenedCheckpoint> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new FileFormatError({ file: path, message: 'no such file or folder.' });
  if (info.isFile()) return path.toLowerCase().endsWith('.gguf') || (await isGguf(path)) ? openGguf(path) : openLlama2c(path);
  if (!info.isDirectory()) {
    throw new FileFormatError({
      file: path,
      message: 'is neither a regular file nor a folder (a device, FIFO or socket): pass a model folder, a .gguf file or a llama2.c .bin.',
    });
  }
  const configPath = join(path, 'config.json');
  // A config.json that is a FIFO or a device is refused before any read (reading it would hang).
  const configText =
    (await stat(configPath).catch(() => undefined)) === undefined ? undefined : await readRegularTextFile(configPath, 'model config');
  if (configText !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(configText);
    } catch (error) {
      throw new FileFormatError({ file: configPath, message: `invalid JSON: ${(error as Error).message}`, cause: error });
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new FileFormatError({ file: configPath, message: 'expected a JSON object.' });
    }
    const generationEosTokenIds = await readGenerationEosTokenIds(path);
    return {
      path,
      format: 'safetensors',
      configJson: json as Record<string, unknown>,
      configFile: configPath,
      weights: await openWeights(path),
      ...(generationEosTokenIds === undefined ? {} : { generationEosTokenIds }),
    };
  }
  const entries = await readdir(path);
  const ggufs = entries.filter((f) => f.toLowerCase().endsWith('.gguf')).sort();
  if (ggufs.length === 1) return openGguf(join(path, ggufs[0] as string));
  if (ggufs.length > 1) {
    throw new FileFormatError({
      file: path,
      message: `several GGUF files (${ggufs.join(', ')}) and no config.json: pass the file itself.`,
    });
  }
  const bins = entries.filter((f) => f.endsWith('.bin') && !/^tok(enizer)?\d*\.bin$/.test(f)).sort();
  if (bins.length === 1) return openLlama2c(join(path, bins[0] as string));
  throw new FileFormatError({
    file: path,
    message:
      bins.length === 0
        ? 'found neither config.json (Hugging Face), a .gguf file nor a llama2.c .bin checkpoint.'
        : `several llama2.c checkpoints (${bins.join(', ')}): pass the file itself.`,
  });
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
export async function loadModel(
  path: string,
  options: {
    /**
     * Called with the parsed config before any weight is read; throwing aborts the load (e.g.
     * `assertFitsBackend` refusing a model too large for the wasm heap).
     */
    beforeWeights?: (config: ModelConfig) => void | Promise<void>;
    /**
     * Receives load warnings (default `console.warn`): e.g. one line counting the vision tower and
     * projector tensors of a Gemma3ForConditionalGeneration checkpoint, which are not loaded.
     */
    onWarning?: (message: string) => void;
    /**
     * The name recorded as `config.nameOrPath` (e.g. the asset name the user typed); default the
     * checkpoint's path. Adapters saved on this model carry it as `base_model_name_or_path`.
     */
    nameOrPath?: string;
    /**
     * GGUF only: keep Q4_0 / Q4_1 / Q8_0 weights in their ggml blocks (`GgmlLinear`, in `@lora/models/internal`) and
     * multiply by them with @lora's native kernels, as llama.cpp does (0.56–1.06 bytes per weight
     * resident and read per decoded token, instead of 4). Default: when the kernels are loaded
     * (tensorflow backend, `lora_ops.node` built by `pnpm setup:tensorflow`). `false`
     * dequantizes to float32 as transformers does, which full fine-tuning needs and LoRA training
     * runs faster on.
     */
    keepQuantized?: boolean;
  } = {},
): Promise<LoadedModel> {
  const checkpoint = await openCheckpoint(path);
  try {
    const parsed = parseModelConfig(checkpoint.configJson, { file: checkpoint.configFile });
    const config = Object.freeze({
      ...withGenerationEosTokenIds(parsed, checkpoint.generationEosTokenIds),
      nameOrPath: options.nameOrPath ?? path,
    });
    await options.beforeWeights?.(config);
    const weights = checkpoint.weights;
    const keep = weights instanceof GgufWeightSource && (options.keepQuantized ?? ggmlKernelsActive());
    if (keep && !ggmlKernelsActive()) {
      throw new InvalidArgumentError({
        argument: 'keepQuantized',
        message: `the native ggml kernels are not loaded on the ${tf.getBackend()} backend: ${nativeOpsStatus() ?? 'they run on tensorflow only'}.`,
      });
    }
    let quantizedLayers = 0;
    const model = await createCausalLM(config, weights, checkpoint.path, {
      ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
      ...(keep
        ? {
            linearFactory: async (request) => {
              const layer = await ggmlLinear(weights, request);
              if (layer !== undefined) quantizedLayers++;
              return layer;
            },
          }
        : {}),
    });
    return { model, config, path: checkpoint.path, format: checkpoint.format, quantizedLayers };
  } finally {
    await checkpoint.weights.close();
  }
}

async function openLlama2c(file: string): Promise<OpenedCheckpoint> {
  const checkpoint = await readLlama2cCheckpoint(file);
  return { path: file, format: 'llama2c', configJson: { ...checkpoint.config }, configFile: file, weights: checkpoint.weights };
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

async function openGguf(file: string): Promise<OpenedCheckpoint> {
  const weights = await GgufWeightSource.open(file);
  try {
    const ropeFreqs = await weights.ropeFreqs();
    const configJson = ggufToHfConfig(weights.gguf, ropeFreqs === undefined ? {} : { ropeFreqs });
    const stopIds = ggufEndOfGenerationTokenIds(weights.gguf.metadata);
    return {
      path: file,
      format: 'gguf',
      configJson,
      configFile: file,
      weights,
      gguf: weights.gguf,
      ...(stopIds.length === 0 ? {} : { generationEosTokenIds: stopIds }),
    };
  } catch (error) {
    await weights.close();
    throw error;
  }
}

/** Options of {@link loadModel}. The public signature spells it out. */
export type LoadModelOptions = NonNullable<Parameters<typeof loadModel>[1]>;

/** A {@link GgmlLinear} from the GGUF blocks of the requested weight, or undefined when its type has no kernel. */
async function ggmlLinear(weights: GgufWeightSource, request: LinearRequest): Promise<GgmlLinear | undefined> {
  const name = request.weight ?? `${request.path}.weight`;
  const type = weights.has(name) ? weights.info(name).type : undefined;
  if (type === undefined || !GGML_KERNEL_TYPES.has(type)) return undefined;
  const raw = await request.reader.raw(name);
  const expected = [request.outFeatures, request.inFeatures];
  if (raw.shape.length !== 2 || raw.shape[0] !== expected[0] || raw.shape[1] !== expected[1]) {
    throw new ShapeMismatchError({ key: name, expectedShape: expected, actualShape: raw.shape, file: weights.file });
  }
  const bias = request.bias ? tf.tensor1d(await request.reader.float(`${request.path}.bias`, [request.outFeatures])) : undefined;
  return new GgmlLinear(raw.bytes, type, request.inFeatures, request.outFeatures, {
    name: request.path,
    ...(bias === undefined ? {} : { bias }),
  });
}
