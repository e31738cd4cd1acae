import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { type CausalLM, SAFETENSORS_WEIGHTS_NAME, type TensorToWrite, openWeights, writeSafetensors } from '@lora/models';
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
 * dequantized) in F32 `[out, in]`; every other tensor (norms, biases) is copied from `baseDir`
 * unchanged. The token embedding is written from the model (F32) when its values differ from
 * the base file's (trained rows or a `modulesToSave` copy merged in); a tied `lm_head` whose
 * weight no longer equals the embedding is written too, with `tie_word_embeddings: false` (as
 * PEFT's `merge_and_unload` unties them). Quantization state keys and `quantization_config` are
 * dropped.
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
  for (const s of model.linearModules()) {
    const module = s.get();
    const transposed = tf.tidy(() => {
      const w = module.denseWeight();
      return tf.transpose(w);
    });
    const data = (await transposed.data()) as Float32Array;
    transposed.dispose();
    tensors[`${s.path}.weight`] = { dtype: 'F32', shape: [module.outFeatures, module.inFeatures], data };
    linearPaths.push(`${s.path}.weight`);
  }
  const weights = await openWeights(options.baseDir);
  try {
    const embedKey = 'model.embed_tokens.weight';
    const embedding = model.embeddingModule().get();
    const table = embedding.denseWeight();
    const tableData = (await table.data()) as Float32Array;
    table.dispose();
    const shape = [embedding.numEmbeddings, embedding.embeddingDim];
    if (weights.keys().includes(embedKey) && !sameValues((await weights.get(embedKey)).data, tableData)) {
      tensors[embedKey] = { dtype: 'F32', shape, data: tableData };
      linearPaths.push(embedKey);
    }
    if (model.config.tieWordEmbeddings) {
      const head = tf.tidy(() => tf.transpose(model.lmHeadModule().get().denseWeight()));
      const headData = (await head.data()) as Float32Array;
      head.dispose();
      if (!sameValues(headData, tableData)) {
        tensors['lm_head.weight'] = { dtype: 'F32', shape, data: headData };
        configJson.tie_word_embeddings = false;
        if (tensors[embedKey] === undefined) {
          tensors[embedKey] = { dtype: 'F32', shape, data: tableData };
          linearPaths.push(embedKey);
        }
      }
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

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
