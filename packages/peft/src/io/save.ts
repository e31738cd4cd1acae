import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '@lora/core';
import { type TensorToWrite, serializeSafetensors, writeSafetensors } from '@lora/models';
import { type LoraConfig, serializeLoraConfig, withLoraConfig } from '../config/lora-config.js';
import type { AuxiliaryLayers } from '../inject/auxiliary.js';
import type { LoraLinear } from '../layers/lora-linear.js';
import { ModulesToSaveLinear } from '../layers/modules-to-save.js';
import {
  ADAPTER_CONFIG_NAME,
  ADAPTER_WEIGHTS_METADATA,
  ADAPTER_WEIGHTS_NAME,
  adapterTensorKey,
  modulesToSaveKey,
  trainableTokensKey,
} from './format.js';

/**
 * The tensors of adapter `adapterName` under PEFT's keys and layouts (`lora_A.weight` `[r, in]`,
 * `lora_B.weight` `[out, r]`, `lora_magnitude_vector` `[out]`), adapter name stripped, plus the
 * adapter's `modules_to_save` copies and trainable token rows when `auxiliary` holds them.
 */
export async function adapterStateDict(
  layers: ReadonlyMap<string, LoraLinear>,
  adapterName: string,
  auxiliary?: AuxiliaryLayers,
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
  for (const [path, m] of auxiliary?.modulesToSave ?? []) {
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
  for (const [path, m] of auxiliary?.trainableTokens ?? []) {
    if (!m.adapterNames().includes(adapterName)) continue;
    const data = await m.deltaValues(adapterName);
    tensors[trainableTokensKey(path)] = { dtype: 'F32', shape: [m.tokenIndices(adapterName).length, m.embeddingDim], data };
  }
  if (Object.keys(tensors).length === 0) {
    throw new InvalidArgumentError({ argument: 'adapterName', message: `no layer holds an adapter named "${adapterName}".` });
  }
  return tensors;
}

/** The bytes of `adapter_model.safetensors` for an adapter, as PEFT's `save_pretrained` writes them. */
export async function serializeAdapterWeights(
  layers: ReadonlyMap<string, LoraLinear>,
  adapterName: string,
  auxiliary?: AuxiliaryLayers,
): Promise<Uint8Array> {
  return serializeSafetensors(await adapterStateDict(layers, adapterName, auxiliary), { metadata: ADAPTER_WEIGHTS_METADATA });
}

/** Writes a text file atomically (temporary file in the same folder, then rename). */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(tmp, text, 'utf8');
  await rename(tmp, path);
}

/**
 * Saves an adapter as PEFT does: `adapter_config.json` (with `inference_mode: true` and
 * `peft_version` stamped, as `save_pretrained` writes it) and `adapter_model.safetensors`, both
 * written atomically into `dir` (created if needed).
 */
export async function saveAdapterFiles(
  dir: string,
  layers: ReadonlyMap<string, LoraLinear>,
  config: LoraConfig,
  adapterName: string,
  auxiliary?: AuxiliaryLayers,
): Promise<void> {
  const tensors = await adapterStateDict(layers, adapterName, auxiliary);
  await mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS_NAME), tensors, { metadata: ADAPTER_WEIGHTS_METADATA });
  await writeTextAtomic(join(dir, ADAPTER_CONFIG_NAME), serializeLoraConfig(withLoraConfig(config, { inferenceMode: true })));
}
