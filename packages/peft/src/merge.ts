import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FileFormatError, LoraError } from '@lora/core';
import type { CausalLM, HfCheckpointInput } from '@lora/models';
import { type SafetensorsDtype, type TensorToWrite, openWeights, transformersName, writeShardedSafetensors } from '@lora/models/internal';
import * as tf from '@tensorflow/tfjs';
import { writeTextAtomic } from './io/save.js';
import { LoraEmbedding } from './layers/lora-embedding.js';
import { LoraLinear } from './layers/lora-linear.js';

/** The dtypes a merged model can be written in (transformers' `dtype` names). */
export const MERGED_DTYPES = ['float32', 'float16', 'bfloat16'] as const;

/** A dtype of {@link MERGED_DTYPES}. */
export type MergedDtype = (typeof MERGED_DTYPES)[number];

const SAFETENSORS_DTYPE: Readonly<Record<MergedDtype, SafetensorsDtype>> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

/**
 * Files of a Hugging Face model folder, besides `config.json` and the weights, that a merged model
 * keeps: the generation defaults and the tokenizer (every format transformers reads).
 */
export const MODEL_SIDE_FILES = [
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'chat_template.jinja',
  'chat_template.json',
  'tokenizer.model',
  'vocab.json',
  'merges.txt',
] as const;

/**
 * Saves `model` as a Hugging Face checkpoint in `outDir` (created if needed): `config.json` and
 * `model.safetensors` (or shards + `model.safetensors.index.json` past `maxShardSize`), which
 * transformers' `AutoModelForCausalLM.from_pretrained` loads. Every linear module is written as
 * its effective dense weight `[out, in]`: a LoRA layer's base plus its active adapter, computed in
 * float32 (as PEFT's merge), or the merged weight after `mergeAndUnload`. An NF4 base is
 * dequantized and the adapter added without requantizing, so the file holds exactly the weight the
 * QLoRA model computed with. Every other tensor is read from `options.base`. Quantization state
 * keys and `quantization_config` are dropped; floating-point tensors are cast to `dtype` (round to
 * nearest even, as torch). A linear's bias is written with its current value (trained with PEFT
 * `bias`), and the token table when it differs from the base's (an `embed_tokens` adapter). An
 * adapter on a tied `lm_head` or `embed_tokens` cannot be saved this way (head and embedding share
 * one table) and is refused. A tied `lm_head` whose weight no longer equals the embedding (a
 * `modulesToSave` copy or trained token rows merged in) is written too, with
 * `tie_word_embeddings: false`, as PEFT's `merge_and_unload` unties them. Tensor names follow the base checkpoint's layout (a
 * Gemma3ForConditionalGeneration keeps its `language_model.model.*` names and its vision tower).
 *
 * @returns the paths written.
 * @example
 * ```ts
 * const peft = await loadPeftModel((await loadModel(baseDir)).model, adapterDir);
 * await saveMergedModel(peft, 'out/merged', { base: baseDir, dtype: 'bfloat16' });
 * ```
 */
export async function saveMergedModel(
  model: CausalLM,
  outDir: string,
  options: {
    /**
     * The checkpoint the base model was loaded from: a Hugging Face folder (its path; its
     * generation config and tokenizer files are copied too), or an opened checkpoint such as
     * `openCheckpoint(ggufOrLlama2c)` (its `configJson` is written and its weights read; the caller
     * closes it). Its non-linear tensors (embeddings, norms, biases) are written from here.
     */
    readonly base: string | HfCheckpointInput;
    /** dtype of every floating-point tensor written (default `float32`); `config.json` says so. */
    readonly dtype?: MergedDtype;
    /** Largest weights file in bytes before sharding (default transformers' 50 GB). */
    readonly maxShardSize?: number;
  },
): Promise<string[]> {
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
  const dtype = options.dtype ?? 'float32';
  const target = SAFETENSORS_DTYPE[dtype];
  const baseDir = typeof options.base === 'string' ? options.base : undefined;
  const configJson = { ...(baseDir === undefined ? (options.base as HfCheckpointInput).configJson : await readConfig(baseDir)) };
  delete configJson.quantization_config;
  configJson.torch_dtype = dtype;
  configJson.dtype = dtype;

  const weights = baseDir === undefined ? (options.base as HfCheckpointInput).weights : await openWeights(baseDir);
  const tensors: Record<string, TensorToWrite> = {};
  const linear = new Map<string, TensorToWrite>();
  try {
    // Slots carry transformers' in-memory names; write each weight under the base file's name (a
    // Gemma3ForConditionalGeneration keeps its `language_model.model.*` names and its vision tower).
    const baseKey = new Map(weights.keys().map((k) => [transformersName(model.config, k), k]));
    for (const s of model.linearModules()) {
      const module = s.get();
      const transposed = tf.tidy(() => tf.transpose(module.denseWeight()));
      const data = (await transposed.data()) as Float32Array;
      transposed.dispose();
      const key = baseKey.get(`${s.path}.weight`) ?? `${s.path}.weight`;
      linear.set(key, { dtype: target, shape: [module.outFeatures, module.inFeatures], data });
      if (module.bias !== undefined) {
        // Biases trained with the adapter (PEFT `bias`) are the model's own: write their current values.
        const biasKey = baseKey.get(`${s.path}.bias`) ?? `${s.path}.bias`;
        linear.set(biasKey, { dtype: target, shape: [module.outFeatures], data: (await module.bias.data()) as Float32Array });
      }
    }
    // The token table: written when it differs from the base file's (an embed_tokens adapter, merged
    // or not, or a base weight loaded from an adapter); otherwise copied like the other tensors.
    const tableKey = baseKey.get(`${embedding.path}.weight`) ?? `${embedding.path}.weight`;
    const table = embedding.get().denseWeight();
    const current = (await table.data()) as Float32Array;
    table.dispose();
    const original = weights.has(tableKey) ? ((await weights.get(tableKey)).data as Float32Array) : undefined;
    if (original === undefined || original.length !== current.length || current.some((v, i) => v !== original[i])) {
      linear.set(tableKey, { dtype: target, shape: [embedding.get().numEmbeddings, embedding.get().embeddingDim], data: current });
    }
    if (model.config.tieWordEmbeddings) {
      const head = tf.tidy(() => tf.transpose(model.lmHeadModule().get().denseWeight()));
      const headData = (await head.data()) as Float32Array;
      head.dispose();
      if (!sameValues(headData, current)) {
        const shape = [embedding.get().numEmbeddings, embedding.get().embeddingDim];
        linear.set(baseKey.get('lm_head.weight') ?? 'lm_head.weight', { dtype: target, shape, data: headData });
        if (!linear.has(tableKey)) linear.set(tableKey, { dtype: target, shape, data: current });
        configJson.tie_word_embeddings = false;
      }
    }
    /** True for a written weight, bias or table, or a linear's bitsandbytes quant state (`….weight.absmax`, `….weight.quant_map`, …). */
    const replaced = (key: string): boolean => {
      if (linear.has(key)) return true;
      const cut = key.indexOf('.weight.');
      return cut >= 0 && linear.has(key.slice(0, cut + '.weight'.length));
    };
    for (const key of weights.keys()) {
      if (replaced(key)) {
        const t = linear.get(key);
        if (t !== undefined) tensors[key] = t;
        continue;
      }
      const t = await weights.get(key);
      tensors[key] =
        t.dtype === 'float32'
          ? { dtype: target, shape: t.shape, data: t.data as Float32Array }
          : { dtype: t.dtype === 'int32' ? 'I32' : 'BOOL', shape: t.shape, data: t.data as Int32Array | Uint8Array };
    }
  } finally {
    if (baseDir !== undefined) await weights.close();
  }
  // A linear module the base checkpoint does not list (e.g. an untied lm_head built at load time).
  for (const [key, t] of linear) if (!(key in tensors)) tensors[key] = t;

  await mkdir(outDir, { recursive: true });
  const written = await writeShardedSafetensors(outDir, tensors, {
    metadata: { format: 'pt' },
    ...(options.maxShardSize === undefined ? {} : { maxShardSize: options.maxShardSize }),
  });
  const sorted = Object.fromEntries(Object.entries(configJson).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const configPath = join(outDir, 'config.json');
  await writeTextAtomic(configPath, `${JSON.stringify(sorted, null, 2)}\n`);
  written.push(configPath);
  if (baseDir !== undefined) {
    for (const name of MODEL_SIDE_FILES) {
      const from = join(baseDir, name);
      if (!(await stat(from).catch(() => undefined))?.isFile()) continue;
      await copyFile(from, join(outDir, name));
      written.push(join(outDir, name));
    }
  }
  return written;
}

async function readConfig(baseDir: string): Promise<Record<string, unknown>> {
  const configFile = join(baseDir, 'config.json');
  try {
    const json: unknown = JSON.parse(await readFile(configFile, 'utf8'));
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('expected a JSON object');
    return json as Record<string, unknown>;
  } catch (error) {
    throw new FileFormatError({
      file: configFile,
      message: `cannot read the base model's config.json: ${(error as Error).message}`,
      cause: error,
    });
  }
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
