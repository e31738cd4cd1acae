import { InvalidArgumentError } from '@lora/core';
import { nodeBuiltin } from '@lora/core/internal';
import type { CausalLM } from '@lora/models';
import { Linear, type TensorToWrite, serializeSafetensors, writeSafetensors } from '@lora/models/internal';
import * as tf from '@tensorflow/tfjs';
import { type LoraConfig, type WarningHandler, serializeLoraConfig, withLoraConfig } from '../config/lora-config.js';
import { loraEmbedding } from '../inject/apply-lora.js';
import { savedBiases } from '../inject/bias.js';
import { EMBEDDING_LAYER_NAMES, SAVE_EMBEDDING_WARNING, savesEmbeddingBase } from '../inject/target-modules.js';
import type { AuxiliaryLayers } from '../inject/auxiliary.js';
import type { LoraLinear } from '../layers/lora-linear.js';
import { ModulesToSaveLinear } from '../layers/modules-to-save.js';
import {
  ADAPTER_CONFIG_NAME,
  ADAPTER_WEIGHTS_METADATA,
  ADAPTER_WEIGHTS_NAME,
  type AdapterFiles,
  adapterTensorKey,
  modulesToSaveKey,
  trainableTokensKey,
} from './format.js';

/** Options of {@link adapterStateDict} beyond the LoRA layers. */
export interface AdapterStateOptions {
  /**
   * The model the layers live in and the adapter's config. With them the state also holds what PEFT
   * saves beside the LoRA factors: the biases trained with `bias` (`…base_layer.bias`, `….bias`)
   * and the base weights of an adapted `embed_tokens` / `lm_head` (`…base_layer.weight`).
   */
  readonly model?: CausalLM;
  /** The adapter's config (see {@link AdapterStateOptions.model}). */
  readonly config?: LoraConfig;
  /** Receives PEFT's warnings (default `console.warn`). */
  readonly onWarning?: WarningHandler;
  /** The `modules_to_save` copies and trainable token rows of the model (saved under PEFT's keys). */
  readonly auxiliary?: AuxiliaryLayers;
}

/**
 * The tensors of adapter `adapterName` under PEFT's keys and layouts (`lora_A.weight` `[r, in]`,
 * `lora_B.weight` `[out, r]`, `lora_magnitude_vector` `[out]`), adapter name stripped; with
 * `options.model` and `options.config`, also the trained biases and embedding base weights PEFT
 * saves; with `options.auxiliary`, the adapter's `modules_to_save` copies and trainable token rows.
 */
export async function adapterStateDict(
  layers: ReadonlyMap<string, LoraLinear>,
  adapterName: string,
  options: AdapterStateOptions = {},
): Promise<Record<string, TensorToWrite>> {
  const tensors: Record<string, TensorToWrite> = {};
  for (const [path, layer] of layers) {
    if (!layer.adapterNames().includes(adapterName)) continue;
    const { r } = layer.rank(adapterName);
    const { a, b, magnitude } = await layer.toTorch(adapterName);
    tensors[adapterTensorKey(path, 'lora_A')] = { dtype: 'F32', shape: [r, layer.inFeatures], data: a };
    tensors[adapterTensorKey(path, 'lora_B')] = { dtype: 'F32', shape: [layer.outFeatures, r], data: b };
    if (magnitude !== undefined)
      tensors[adapterTensorKey(path, 'lora_magnitude_vector')] = { dtype: 'F32', shape: [layer.outFeatures], data: magnitude };
  }
  const { model, config } = options;
  const embedding = model === undefined ? undefined : loraEmbedding(model);
  if (embedding !== undefined && embedding.adapterNames().includes(adapterName)) {
    const { r } = embedding.rank(adapterName);
    const { a, b } = await embedding.toTorch(adapterName);
    const path = model?.embeddingModule().path as string;
    tensors[adapterTensorKey(path, 'lora_embedding_A')] = { dtype: 'F32', shape: [r, embedding.numEmbeddings], data: a };
    tensors[adapterTensorKey(path, 'lora_embedding_B')] = { dtype: 'F32', shape: [embedding.embeddingDim, r], data: b };
  }
  for (const [path, m] of options.auxiliary?.modulesToSave ?? []) {
    if (!m.adapterNames().includes(adapterName)) continue;
    if (m instanceof ModulesToSaveLinear) {
      const { weight, bias } = await m.toTorch(adapterName);
      tensors[modulesToSaveKey(path, 'weight')] = { dtype: 'F32', shape: [m.outFeatures, m.inFeatures], data: weight };
      if (bias !== undefined) tensors[modulesToSaveKey(path, 'bias')] = { dtype: 'F32', shape: [m.outFeatures], data: bias };
    } else {
      const data = await m.toTorch(adapterName);
      tensors[modulesToSaveKey(path, 'weight')] = { dtype: 'F32', shape: [m.numEmbeddings, m.embeddingDim], data };
    }
  }
  for (const [path, m] of options.auxiliary?.trainableTokens ?? []) {
    if (!m.adapterNames().includes(adapterName)) continue;
    const data = await m.deltaValues(adapterName);
    tensors[trainableTokensKey(path)] = { dtype: 'F32', shape: [m.tokenIndices(adapterName).length, m.embeddingDim], data };
  }
  if (Object.keys(tensors).length === 0) {
    throw new InvalidArgumentError({ argument: 'adapterName', message: `no layer holds an adapter named "${adapterName}".` });
  }
  if (model !== undefined && config !== undefined) {
    for (const { path, kind, tensor } of savedBiases(model, config.bias)) {
      tensors[adapterTensorKey(path, kind)] = { dtype: 'F32', shape: [tensor.shape[0]], data: (await tensor.data()) as Float32Array };
    }
    await addEmbeddingBases(tensors, model, layers, config, options.onWarning ?? defaultWarn);
  }
  return tensors;
}

const defaultWarn: WarningHandler = (message) => console.warn(`@lora/peft: ${message}`);

/**
 * PEFT's `save_embedding_layers="auto"`: when `target_modules` names `embed_tokens` / `lm_head`, it
 * warns and saves the base weight (and bias) of each adapted embedding layer (torch layout: the
 * head `[out, in]`, the table `[num_embeddings, embedding_dim]`).
 */
async function addEmbeddingBases(
  tensors: Record<string, TensorToWrite>,
  model: CausalLM,
  layers: ReadonlyMap<string, LoraLinear>,
  config: LoraConfig,
  warn: WarningHandler,
): Promise<void> {
  const embeddingPath = model.embeddingModule().path;
  if (!savesEmbeddingBase(config.targetModules, [embeddingPath, ...layers.keys()])) return;
  warn(SAVE_EMBEDDING_WARNING);
  const embedding = loraEmbedding(model);
  if (embedding !== undefined) {
    // nn.Embedding's weight is [num_embeddings, embedding_dim], our dense table as is.
    const t = embedding.base.denseWeight();
    tensors[adapterTensorKey(embeddingPath, 'base_layer.weight')] = {
      dtype: 'F32',
      shape: [embedding.numEmbeddings, embedding.embeddingDim],
      data: (await t.data()) as Float32Array,
    };
    t.dispose();
  }
  for (const [path, layer] of layers) {
    if (!EMBEDDING_LAYER_NAMES.includes(path.split('.').at(-1) as string)) continue;
    const base = layer.base;
    if (!(base instanceof Linear)) {
      warn(
        `${path}: the base layer is a ${base.constructor.name}, not a dense Linear, so its weight is not saved with the adapter (PEFT saves it only for torch.nn.Linear / Embedding bases).`,
      );
      continue;
    }
    const t = tf.tidy(() => tf.transpose(base.weight));
    tensors[adapterTensorKey(path, 'base_layer.weight')] = {
      dtype: 'F32',
      shape: [layer.outFeatures, layer.inFeatures],
      data: (await t.data()) as Float32Array,
    };
    t.dispose();
    if (base.bias !== undefined) {
      tensors[adapterTensorKey(path, 'base_layer.bias')] = {
        dtype: 'F32',
        shape: [layer.outFeatures],
        data: (await base.bias.data()) as Float32Array,
      };
    }
  }
}

/** The bytes of `adapter_model.safetensors` for an adapter, as PEFT's `save_pretrained` writes them. */
export async function serializeAdapterWeights(
  layers: ReadonlyMap<string, LoraLinear>,
  adapterName: string,
  options: AdapterStateOptions = {},
): Promise<Uint8Array> {
  return serializeSafetensors(await adapterStateDict(layers, adapterName, options), { metadata: ADAPTER_WEIGHTS_METADATA });
}

/** Writes a text file atomically (temporary file in the same folder, then rename). */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  const { rename, writeFile } = await nodeBuiltin('fs/promises', 'writeTextAtomic');
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(tmp, text, 'utf8');
  await rename(tmp, path);
}

/**
 * Saves an adapter as PEFT does: `adapter_config.json` (with `inference_mode: true` and
 * `peft_version` stamped, as `save_pretrained` writes it) and `adapter_model.safetensors`, both
 * written atomically into `dir` (created if needed). Pass `options.model` to save the trained
 * biases and embedding base weights PEFT saves too (see {@link AdapterStateOptions}).
 */
export async function saveAdapterFiles(
  dir: string,
  layers: ReadonlyMap<string, LoraLinear>,
  config: LoraConfig,
  adapterName: string,
  options: Omit<AdapterStateOptions, 'config'> = {},
): Promise<void> {
  const { join } = await nodeBuiltin('path', 'saveAdapter(dir)');
  const { mkdir } = await nodeBuiltin('fs/promises', 'saveAdapter(dir)');
  const tensors = await adapterStateDict(layers, adapterName, { ...options, config });
  await mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS_NAME), tensors, { metadata: ADAPTER_WEIGHTS_METADATA });
  await writeTextAtomic(join(dir, ADAPTER_CONFIG_NAME), serializeLoraConfig(withLoraConfig(config, { inferenceMode: true })));
}

/**
 * The files {@link saveAdapterFiles} writes, in memory (same bytes): for a browser download, an
 * upload, or `loadPeftModel(model, files)`.
 */
export async function serializeAdapterFiles(
  layers: ReadonlyMap<string, LoraLinear>,
  config: LoraConfig,
  adapterName: string,
  options: Omit<AdapterStateOptions, 'config'> = {},
): Promise<AdapterFiles> {
  return {
    [ADAPTER_CONFIG_NAME]: serializeLoraConfig(withLoraConfig(config, { inferenceMode: true })),
    [ADAPTER_WEIGHTS_NAME]: await serializeAdapterWeights(layers, adapterName, { ...options, config }),
  };
}
