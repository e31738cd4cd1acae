import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileFormatError, InvalidArgumentError, parseJson } from '@lora/core';
import { type CausalLM, type ModelConfig, parseModelConfig } from '@lora/models';
import {
  createCausalLM,
  transformersName,
  type LinearFactory,
  openWeights,
  type SafetensorsWeights,
  writeSafetensors,
  type TensorToWrite,
} from '@lora/models/internal';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { checkBlocksize } from './blockwise.js';
import type { QuantType } from './codebooks/codebooks.js';
import { pythonFloatRepr, quantStateTensors, quantTypeOf, readQuantState, type RawTensorSource } from './format.js';
import { Nf4Linear } from './nf4-linear.js';

/** Options of {@link quantizeModel}. */
export interface QuantizeModelOptions {
  /** `nf4` (default) or `fp4`. */
  type?: QuantType;
  /** absmax block size (32…4096), default 64. */
  blocksize?: number;
  /** Double quantization of absmax, default true. */
  doubleQuant?: boolean;
  /** Module paths (or path suffixes / regexes) left dense; `lm_head` is always skipped. */
  skip?: readonly (string | RegExp)[];
}

function skipped(path: string, skip: readonly (string | RegExp)[]): boolean {
  if (path === 'lm_head' || path.endsWith('.lm_head')) return true;
  return skip.some((s) => (typeof s === 'string' ? path === s || path.endsWith(`.${s}`) : s.test(path)));
}

/**
 * Replaces every linear module of `model` except `lm_head` (embeddings and norms are not linear
 * modules and stay float32) by an {@link Nf4Linear} quantized as bitsandbytes would, one layer at a
 * time (the dense layer is disposed after its replacement is built). Resolves to the quantized paths.
 *
 * Asynchronous: each dense weight is read back to the host with `await data()` (quantization runs
 * in JavaScript), which works on every backend, webgpu included (its `dataSync` throws in Node).
 * Await it before using the model: until it resolves, some layers are still dense.
 *
 * @example
 * ```ts
 * const { model } = await loadModel(dir);
 * await quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: true });
 * ```
 */
export async function quantizeModel(model: CausalLM, options: QuantizeModelOptions = {}): Promise<string[]> {
  const blocksize = options.blocksize ?? 64;
  checkBlocksize(blocksize, 'options.blocksize');
  const done: string[] = [];
  for (const slot of model.linearModules()) {
    if (skipped(slot.path, options.skip ?? [])) continue;
    const dense = slot.get();
    if (dense instanceof Nf4Linear) continue;
    const weight = tf.tidy(() => tf.transpose(dense.denseWeight()));
    const data = (await weight.data()) as Float32Array;
    weight.dispose();
    const bias = dense.bias === undefined ? undefined : (tf.keep(dense.bias.clone()) as tf.Tensor1D);
    slot.set(
      Nf4Linear.quantize(data, dense.outFeatures, dense.inFeatures, {
        quantType: options.type ?? 'nf4',
        blocksize,
        doubleQuant: options.doubleQuant ?? true,
        name: slot.path,
        ...(bias === undefined ? {} : { bias }),
      }),
    );
    dense.dispose();
    done.push(slot.path);
  }
  return done;
}

/** `quantization_config` of a transformers bitsandbytes 4-bit checkpoint (the fields we use). */
const BnbConfigSchema = z.object({
  quant_method: z.literal('bitsandbytes'),
  load_in_4bit: z.literal(true),
  bnb_4bit_quant_type: z.enum(['nf4', 'fp4']).optional(),
  bnb_4bit_use_double_quant: z.boolean().optional(),
  llm_int8_skip_modules: z.array(z.string()).nullable().optional(),
});

/**
 * Loads a Hugging Face folder saved by transformers with `BitsAndBytesConfig(load_in_4bit=True)`:
 * `config.json` with `quantization_config` and safetensors holding, per quantized linear, the
 * packed U8 weight and its quant state. Each quantized slot becomes an {@link Nf4Linear} built from
 * the file's own bytes, one layer at a time (a `linearFactory` of `createCausalLM`): no quantized
 * weight is ever materialised in float32 during the load.
 *
 * @example
 * ```ts
 * const { model } = await loadQuantizedModel('/models/llama-nf4');
 * ```
 */
export async function loadQuantizedModel(dir: string): Promise<{
  /** The model, its quantized slots holding {@link Nf4Linear} layers. */
  model: CausalLM;
  config: ModelConfig;
  /** Paths of the modules that are {@link Nf4Linear}. */
  quantizedPaths: string[];
}> {
  const configPath = join(dir, 'config.json');
  const text = await readFile(configPath, 'utf8').catch(() => {
    throw new FileFormatError({ file: configPath, message: 'missing config.json.' });
  });
  const raw = parseJson(text, z.record(z.string(), z.unknown()), { file: configPath });
  const config = Object.freeze({ ...parseModelConfig(raw, { file: configPath }), nameOrPath: dir });
  parseJson(JSON.stringify(config.quantizationConfig ?? null), BnbConfigSchema, { file: `${configPath} (quantization_config)` });
  const weights = await openWeights(dir);
  try {
    const quantizedPaths: string[] = [];
    const linearFactory: LinearFactory = async ({ path, outFeatures, inFeatures, bias, reader }) => {
      const source: RawTensorSource = { keys: () => reader.canonicalKeys(), getRaw: (name) => reader.raw(name) };
      const weightKey = `${path}.weight`;
      if (quantTypeOf(new Set(source.keys()), weightKey) === undefined) return undefined;
      const state = await readQuantState(source, weightKey, dir);
      const [out, inF] = state.shape;
      if (out !== outFeatures || inF !== inFeatures) {
        throw new FileFormatError({
          file: dir,
          field: weightKey,
          message: `quant_state shape [${state.shape.join(', ')}] but the config implies [${outFeatures}, ${inFeatures}].`,
        });
      }
      const b = bias ? tf.tensor1d(await reader.float(`${path}.bias`, [outFeatures])) : undefined;
      quantizedPaths.push(path);
      return new Nf4Linear(state, { name: path, ...(b === undefined ? {} : { bias: b }) });
    };
    const model = await createCausalLM(config, weights, dir, { linearFactory });
    return { model, config, quantizedPaths };
  } finally {
    await weights.close();
  }
}

/** The `quantization_config` transformers writes for a 4-bit model (sorted keys, as it saves them). */
export function bnbQuantizationConfig(quantType: QuantType, doubleQuant: boolean): Record<string, unknown> {
  return {
    _load_in_4bit: true,
    _load_in_8bit: false,
    bnb_4bit_compute_dtype: 'float32',
    bnb_4bit_quant_storage: 'uint8',
    bnb_4bit_quant_type: quantType,
    bnb_4bit_use_double_quant: doubleQuant,
    llm_int8_enable_fp32_cpu_offload: false,
    llm_int8_has_fp16_weight: false,
    llm_int8_skip_modules: null,
    llm_int8_threshold: 6.0,
    load_in_4bit: true,
    load_in_8bit: false,
    quant_method: 'bitsandbytes',
  };
}

const FLOAT_KEYS = new Set(['llm_int8_threshold']);

/**
 * Inserts `quantization_config` into a `config.json` text written by transformers (indent 2, sorted
 * keys), as `save_pretrained` of the quantized model writes it; other bytes are kept.
 */
export function withQuantizationConfig(configText: string, quantizationConfig: Record<string, unknown>): string {
  const parsed = parseJson(configText, z.record(z.string(), z.unknown()), { file: 'config.json' });
  const body = Object.entries(quantizationConfig)
    .map(([k, v]) => `    ${JSON.stringify(k)}: ${typeof v === 'number' && FLOAT_KEYS.has(k) ? pythonFloatRepr(v) : JSON.stringify(v)}`)
    .join(',\n');
  const block = `  "quantization_config": {\n${body}\n  }`;
  const keys = Object.keys(parsed).filter((k) => k !== 'quantization_config');
  const existing = /^ {2}"quantization_config": \{[\s\S]*?^ {2}\}/m;
  if (existing.test(configText)) return configText.replace(existing, block);
  const next = keys.filter((k) => k > 'quantization_config').sort()[0];
  if (next === undefined) return configText.replace(/\n\}\s*$/, `,\n${block}\n}\n`);
  const at = configText.search(new RegExp(`^ {2}${JSON.stringify(next).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `, 'm'));
  if (at < 0)
    throw new InvalidArgumentError({
      argument: 'configText',
      message: `expected transformers' config.json layout (key "${next}" at indent 2).`,
    });
  return `${configText.slice(0, at)}${block},\n${configText.slice(at)}`;
}

/**
 * Writes a transformers-compatible bitsandbytes 4-bit folder: `config.json` with
 * `quantization_config` and `model.safetensors` with the bnb keys of every {@link Nf4Linear}
 * (`weight`, `absmax`, `quant_map`, `nested_*`, `quant_state.bitsandbytes__<type>`) and the other
 * tensors of `source` unchanged — byte-identical to `save_pretrained` of the same model quantized by
 * bitsandbytes on CPU.
 */
export async function saveQuantizedModel(
  dir: string,
  model: CausalLM,
  options: {
    /** The checkpoint the model came from: every tensor that is not a quantized weight is copied raw. */
    source: SafetensorsWeights;
    /** Its `config.json` text (transformers layout); `quantization_config` is inserted. */
    configText: string;
  },
): Promise<void> {
  const tensors: Record<string, TensorToWrite> = {};
  const replaced = new Set<string>();
  let quantType: QuantType | undefined;
  let doubleQuant = false;
  // Each weight keeps the source's name (a multimodal checkpoint stores `language_model.model.*`
  // while the slots carry transformers' in-memory `model.language_model.*`).
  const sourceKey = new Map(options.source.keys().map((k) => [transformersName(model.config, k), k]));
  for (const slot of model.linearModules()) {
    const module = slot.get();
    if (!(module instanceof Nf4Linear)) continue;
    const state = await module.quantState();
    quantType ??= state.quantType;
    doubleQuant ||= state.nested !== undefined;
    const key = sourceKey.get(`${slot.path}.weight`) ?? `${slot.path}.weight`;
    replaced.add(key);
    for (const [name, t] of quantStateTensors(key, state)) tensors[name] = t;
  }
  if (quantType === undefined)
    throw new InvalidArgumentError({ argument: 'model', message: 'no Nf4Linear module: await quantizeModel(model) first.' });
  for (const key of options.source.keys()) {
    if (replaced.has(key) || key in tensors) continue;
    const raw = await options.source.getRaw(key);
    tensors[key] = { dtype: raw.dtype, shape: raw.shape, bytes: raw.bytes };
  }
  await mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
  await writeFile(join(dir, 'config.json'), withQuantizationConfig(options.configText, bnbQuantizationConfig(quantType, doubleQuant)));
}
