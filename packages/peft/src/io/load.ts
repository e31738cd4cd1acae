import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AssetNotFoundError, FileFormatError } from '@lora/core';
import { type HostTensor, type ModelConfig, SafetensorsReader, isNonTextModule, transformersName } from '@lora/models';
import { type LoraConfig, type ParseLoraConfigOptions, parseLoraConfig } from '../config/lora-config.js';
import type { LoraLinear } from '../layers/lora-linear.js';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, adapterTensorKey, parseAdapterTensorKey } from './format.js';

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

/** Options of {@link loadAdapterWeights}. */
export interface LoadAdapterWeightsOptions {
  /**
   * The base model's config. For a Gemma3ForConditionalGeneration it maps the transformers v4
   * adapter layout (`language_model.model.*`) to the v5 one and lets the vision tower's tensors
   * be skipped (one warning counting them); without it every key must name a targeted layer.
   */
  readonly config?: ModelConfig;
  /** Receives warnings (default `console.warn`). */
  readonly onWarning?: (message: string) => void;
}

/**
 * Loads `<dir>/adapter_model.safetensors` into adapter `adapterName` of `layers` (already
 * injected from the same config). Every layer must find its tensors with PEFT's shapes; keys for
 * modules the model lacks, or for tensors this package does not know, are errors naming the key.
 * With `options.config` of a multimodal base, the vision tower's and projector's tensors (PEFT
 * adapts them too when `target_modules` names `q_proj`, …) are skipped with one counted warning.
 */
export async function loadAdapterWeights(
  dir: string,
  layers: ReadonlyMap<string, LoraLinear>,
  adapterName: string,
  options: LoadAdapterWeightsOptions = {},
): Promise<void> {
  const file = join(dir, ADAPTER_WEIGHTS_NAME);
  const { config } = options;
  const reader = await SafetensorsReader.open(file);
  try {
    // In-memory key (as adapterTensorKey spells it) -> key in the file.
    const fileKey = new Map<string, string>();
    const skipped: string[] = [];
    for (const key of reader.keys()) {
      const parsed = parseAdapterTensorKey(key);
      if (parsed === undefined) {
        throw new FileFormatError({
          file,
          field: key,
          message:
            'not a LoRA tensor (expected base_model.model.<module>.lora_A.weight, .lora_B.weight or .lora_magnitude_vector); bias and modules_to_save tensors are not supported.',
        });
      }
      const modulePath = config === undefined ? parsed.modulePath : transformersName(config, parsed.modulePath);
      if (config !== undefined && isNonTextModule(config, modulePath)) {
        skipped.push(key);
        continue;
      }
      const layer = layers.get(modulePath);
      if (layer === undefined || (parsed.kind === 'lora_magnitude_vector' && layer.weights(adapterName).magnitude === undefined)) {
        throw new FileFormatError({
          file,
          field: key,
          message: `the adapter config does not target module ${modulePath} with this tensor (targeted: ${[...layers.keys()].join(', ')}).${layoutHint(modulePath, layers, config)}`,
        });
      }
      fileKey.set(adapterTensorKey(modulePath, parsed.kind), key);
    }
    if (skipped.length > 0) {
      (options.onWarning ?? console.warn)(
        `${file}: skipped ${skipped.length} adapter tensor(s) of the vision tower / multi_modal_projector (e.g. ${skipped[0]}); @lora runs the text decoder of ${config?.architecture ?? 'the model'} only, and they do not change text-only outputs.`,
      );
    }
    for (const [path, layer] of layers) {
      const { r } = layer.rank(adapterName);
      const dora = layer.weights(adapterName).magnitude !== undefined;
      const read = async (kind: 'lora_A' | 'lora_B' | 'lora_magnitude_vector', shape: number[]): Promise<HostTensor> => {
        const key = fileKey.get(adapterTensorKey(path, kind)) ?? adapterTensorKey(path, kind);
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
  } finally {
    await reader.close();
  }
}

/** Why a module path matched no layer, when the adapter was written for the other Gemma 3 class. */
function layoutHint(modulePath: string, layers: ReadonlyMap<string, LoraLinear>, config: ModelConfig | undefined): string {
  const first = layers.keys().next().value ?? '';
  if (modulePath.startsWith('model.layers.') && first.startsWith('model.language_model.')) {
    return ` HINT: the keys use the text-only layout (model.layers.*, e.g. Gemma3ForCausalLM) but the base model is ${config?.architecture ?? 'multimodal'}, whose decoder modules PEFT names model.language_model.layers.*; load the adapter on the text-only checkpoint, or rename its keys.`;
  }
  if (modulePath.startsWith('model.language_model.') && first.startsWith('model.layers.')) {
    return ' HINT: the keys use the Gemma3ForConditionalGeneration layout (model.language_model.*) but the base model is text-only; load the adapter on the multimodal checkpoint, or rename its keys.';
  }
  return '';
}
