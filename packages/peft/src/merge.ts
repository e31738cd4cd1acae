import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { type CausalLM, SAFETENSORS_WEIGHTS_NAME, type TensorToWrite, openWeights, transformersName, writeSafetensors } from '@lora/models';
import * as tf from '@tensorflow/tfjs';
import { writeTextAtomic } from './io/save.js';

/** Options of {@link saveMergedModel}. */
export interface SaveMergedOptions {
  /** The Hugging Face folder the base model was loaded from: its other tensors and `config.json` are copied. */
  readonly baseDir: string;
}

/**
 * Saves `model` as a full-precision Hugging Face checkpoint (`config.json` + `model.safetensors`)
 * in `outDir`: every linear module is written as its effective dense weight (a LoRA layer's
 * base plus its active adapter, or the merged weight after `mergeAndUnload`; an NF4 base
 * dequantized) in F32 `[out, in]`; every other tensor (embeddings, norms, biases) is copied from
 * `baseDir` unchanged. Quantization state keys and `quantization_config` are dropped. Tensor names
 * follow the base checkpoint's layout (a Gemma3ForConditionalGeneration keeps its
 * `language_model.model.*` names and its vision tower).
 *
 * @example
 * ```ts
 * const merged = await peft.mergeAndUnload();
 * await saveMergedModel(merged, 'out/merged', { baseDir });
 * ```
 */
export async function saveMergedModel(model: CausalLM, outDir: string, options: SaveMergedOptions): Promise<void> {
  const configFile = join(options.baseDir, 'config.json');
  let configJson: Record<string, unknown>;
  try {
    configJson = JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new FileFormatError({
      file: configFile,
      message: `cannot read the base model's config.json: ${(error as Error).message}`,
      cause: error,
    });
  }
  delete configJson.quantization_config;
  const tensors: Record<string, TensorToWrite> = {};
  const linearPaths: string[] = [];
  const weights = await openWeights(options.baseDir);
  // Slots carry transformers' in-memory names; write each weight under the base file's name.
  const baseKey = new Map(weights.keys().map((k) => [transformersName(model.config, k), k]));
  try {
    for (const s of model.linearModules()) {
      const module = s.get();
      const transposed = tf.tidy(() => tf.transpose(module.denseWeight()));
      const data = (await transposed.data()) as Float32Array;
      transposed.dispose();
      const key = baseKey.get(`${s.path}.weight`) ?? `${s.path}.weight`;
      tensors[key] = { dtype: 'F32', shape: [module.outFeatures, module.inFeatures], data };
      linearPaths.push(key);
    }
    for (const key of weights.keys()) {
      if (linearPaths.some((p) => key === p || key.startsWith(`${p}.`))) continue;
      tensors[key] = await weights.getRaw(key);
    }
  } finally {
    await weights.close();
  }
  await mkdir(outDir, { recursive: true });
  await writeSafetensors(join(outDir, SAFETENSORS_WEIGHTS_NAME), tensors, { metadata: { format: 'pt' } });
  const sorted = Object.fromEntries(Object.entries(configJson).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  await writeTextAtomic(join(outDir, 'config.json'), `${JSON.stringify(sorted, null, 2)}\n`);
}
