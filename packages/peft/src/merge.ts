import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileFormatError, LoraError } from '@lora/core';
import { type CausalLM, SAFETENSORS_WEIGHTS_NAME, type TensorToWrite, openWeights, writeSafetensors } from '@lora/models';
import * as tf from '@tensorflow/tfjs';
import { writeTextAtomic } from './io/save.js';
import { LoraEmbedding } from './layers/lora-embedding.js';
import { LoraLinear } from './layers/lora-linear.js';

/** Options of {@link saveMergedModel}. */
export interface SaveMergedOptions {
  /** The Hugging Face folder the base model was loaded from: its other tensors and `config.json` are copied. */
  readonly baseDir: string;
}

/**
 * Saves `model` as a full-precision Hugging Face checkpoint (`config.json` + `model.safetensors`)
 * in `outDir`: every linear module is written as its effective dense weight (a LoRA layer's
 * base plus its active adapter, or the merged weight after `mergeAndUnload`; an NF4 base
 * dequantized) in F32 `[out, in]` with its current bias (trained with PEFT `bias`), and the token
 * table in F32 when it differs from the base's (an `embed_tokens` adapter); every other tensor
 * (norms, an unchanged table) is copied from `baseDir` unchanged. An adapter on a tied `lm_head`
 * cannot be saved this way (the head shares the embedding's table) and is refused. Quantization state keys and `quantization_config` are dropped.
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
  if (model.config.tieWordEmbeddings && model.lmHeadModule().get() instanceof LoraLinear) {
    throw new LoraError(
      'the model has `tie_word_embeddings=True` and an adapter on `lm_head`, which shares its weight with `model.embed_tokens`: a merged checkpoint cannot hold the adapted head without untying the embeddings. Load the base with `tie_word_embeddings: false` (lm_head a copy of embed_tokens) to merge, or keep the adapter separate.',
    );
  }
  const embedding = model.embeddingModule();
  if (model.config.tieWordEmbeddings && embedding.get() instanceof LoraEmbedding) {
    throw new LoraError(
      'the model has `tie_word_embeddings=True` and an adapter on `model.embed_tokens`, whose table lm_head shares: a merged checkpoint cannot hold the adapted table without changing the head. Load the base with `tie_word_embeddings: false` to merge, or keep the adapter separate.',
    );
  }
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
    if (module.bias !== undefined) {
      // Biases trained with the adapter (PEFT `bias`) are the model's own: write their current values.
      tensors[`${s.path}.bias`] = { dtype: 'F32', shape: [module.outFeatures], data: (await module.bias.data()) as Float32Array };
      linearPaths.push(`${s.path}.bias`);
    }
  }
  const weights = await openWeights(options.baseDir);
  try {
    // The token table: written when it differs from the base file's (an embed_tokens adapter, merged
    // or not, or a base weight loaded from an adapter); otherwise copied like the other tensors.
    const tableKey = `${embedding.path}.weight`;
    const table = embedding.get().denseWeight();
    const current = (await table.data()) as Float32Array;
    table.dispose();
    const original = weights.has(tableKey) ? ((await weights.get(tableKey)).data as Float32Array) : undefined;
    if (original === undefined || original.length !== current.length || current.some((v, i) => v !== original[i])) {
      tensors[tableKey] = { dtype: 'F32', shape: [embedding.get().numEmbeddings, embedding.get().embeddingDim], data: current };
      linearPaths.push(tableKey);
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
