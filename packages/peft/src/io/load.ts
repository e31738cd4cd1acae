import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AssetNotFoundError, FileFormatError } from '@lora/core';
import { type HostTensor, SafetensorsReader } from '@lora/models';
import { type LoraConfig, type ParseLoraConfigOptions, parseLoraConfig } from '../config/lora-config.js';
import type { AuxiliaryLayers } from '../inject/auxiliary.js';
import type { LoraLinear } from '../layers/lora-linear.js';
import { ModulesToSaveLinear } from '../layers/modules-to-save.js';
import {
  ADAPTER_CONFIG_NAME,
  ADAPTER_WEIGHTS_NAME,
  adapterTensorKey,
  modulesToSaveKey,
  parseAdapterTensorKey,
  trainableTokensKey,
} from './format.js';

/** Reads and validates `<dir>/adapter_config.json`. */
export async function readAdapterConfig(dir: string, options: ParseLoraConfigOptions = {}): Promise<LoraConfig> {
  const file = join(dir, ADAPTER_CONFIG_NAME);
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new AssetNotFoundError({
      asset: file,
      searched: [file],
      hint: 'a PEFT adapter folder holds adapter_config.json and adapter_model.safetensors',
      cause: error,
    });
  });
  return parseLoraConfig(text, { file }, options);
}

/**
 * Loads `<dir>/adapter_model.safetensors` into adapter `adapterName` of `layers` (already
 * injected from the same config). Every layer must find its tensors with PEFT's shapes; keys for
 * modules the model lacks, or for tensors this package does not know, are errors naming the key.
 * `auxiliary` (injected from the same config) receives the `modules_to_save` copies and trainable
 * token rows; `trainable` says whether those become trainable variables.
 */
export async function loadAdapterWeights(
  dir: string,
  layers: ReadonlyMap<string, LoraLinear>,
  adapterName: string,
  auxiliary: AuxiliaryLayers = { modulesToSave: new Map(), trainableTokens: new Map() },
  trainable = false,
): Promise<void> {
  const file = join(dir, ADAPTER_WEIGHTS_NAME);
  const reader = await SafetensorsReader.open(file);
  const auxKeys = new Set<string>();
  for (const [path, m] of auxiliary.modulesToSave) {
    auxKeys.add(modulesToSaveKey(path, 'weight'));
    if (m instanceof ModulesToSaveLinear && m.original.bias !== undefined) auxKeys.add(modulesToSaveKey(path, 'bias'));
  }
  for (const path of auxiliary.trainableTokens.keys()) auxKeys.add(trainableTokensKey(path));
  try {
    for (const key of reader.keys()) {
      if (auxKeys.has(key)) continue;
      const parsed = parseAdapterTensorKey(key);
      if (parsed === undefined) {
        throw new FileFormatError({
          file,
          field: key,
          message:
            'not a LoRA tensor (expected base_model.model.<module>.lora_A.weight, .lora_B.weight or .lora_magnitude_vector), nor a `modules_to_save` / `trainable_token_indices` tensor of the adapter config; bias tensors are not supported.',
        });
      }
      const layer = layers.get(parsed.modulePath);
      if (layer === undefined || (parsed.kind === 'lora_magnitude_vector' && layer.weights(adapterName).magnitude === undefined)) {
        throw new FileFormatError({
          file,
          field: key,
          message: `the adapter config does not target module ${parsed.modulePath} with this tensor (targeted: ${[...layers.keys()].join(', ')}).`,
        });
      }
    }
    for (const [path, layer] of layers) {
      const { r } = layer.rank(adapterName);
      const dora = layer.weights(adapterName).magnitude !== undefined;
      const read = async (kind: 'lora_A' | 'lora_B' | 'lora_magnitude_vector', shape: number[]): Promise<HostTensor> => {
        const key = adapterTensorKey(path, kind);
        if (!reader.has(key)) throw new FileFormatError({ file, field: key, message: `missing tensor for targeted module ${path}.` });
        const found = reader.shape(key);
        if (found.length !== shape.length || found.some((d, i) => d !== shape[i])) {
          throw new FileFormatError({
            file,
            field: key,
            message: `shape [${found.join(', ')}] does not match the model: expected [${shape.join(', ')}] (r = ${r}, in = ${layer.inFeatures}, out = ${layer.outFeatures}). Was the adapter trained on another base model?`,
          });
        }
        const tensor = await reader.get(key);
        if (tensor.dtype !== 'float32')
          throw new FileFormatError({ file, field: key, message: `dtype ${tensor.dtype}: expected a floating-point tensor.` });
        return tensor;
      };
      const a = await read('lora_A', [r, layer.inFeatures]);
      const b = await read('lora_B', [layer.outFeatures, r]);
      const m = dora ? await read('lora_magnitude_vector', [layer.outFeatures]) : undefined;
      layer.assignFromTorch(adapterName, {
        a: a.data as Float32Array,
        b: b.data as Float32Array,
        ...(m === undefined ? {} : { magnitude: m.data as Float32Array }),
      });
    }
    const readExact = async (key: string, shape: number[], what: string): Promise<Float32Array> => {
      if (!reader.has(key)) throw new FileFormatError({ file, field: key, message: `missing tensor for ${what}.` });
      const found = reader.shape(key);
      if (found.length !== shape.length || found.some((d, i) => d !== shape[i])) {
        throw new FileFormatError({
          file,
          field: key,
          message: `shape [${found.join(', ')}] does not match the model: expected [${shape.join(', ')}] for ${what}. Was the adapter trained on another base model?`,
        });
      }
      const tensor = await reader.get(key);
      if (tensor.dtype !== 'float32')
        throw new FileFormatError({ file, field: key, message: `dtype ${tensor.dtype}: expected a floating-point tensor.` });
      return tensor.data as Float32Array;
    };
    for (const [path, m] of auxiliary.modulesToSave) {
      const what = `modules_to_save module ${path}`;
      if (m instanceof ModulesToSaveLinear) {
        const weight = await readExact(modulesToSaveKey(path, 'weight'), [m.outFeatures, m.inFeatures], what);
        const bias = m.original.bias === undefined ? undefined : await readExact(modulesToSaveKey(path, 'bias'), [m.outFeatures], what);
        m.assignFromTorch(adapterName, bias === undefined ? { weight } : { weight, bias }, { trainable });
      } else {
        m.assignFromTorch(adapterName, await readExact(modulesToSaveKey(path, 'weight'), [m.numEmbeddings, m.embeddingDim], what), {
          trainable,
        });
      }
    }
    for (const [path, m] of auxiliary.trainableTokens) {
      const k = m.tokenIndices(adapterName).length;
      m.assignDelta(adapterName, await readExact(trainableTokensKey(path), [k, m.embeddingDim], `the ${k} trainable tokens of ${path}`));
    }
  } finally {
    await reader.close();
  }
}
