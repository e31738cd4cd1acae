import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WeightSource } from './host-tensor.js';
import { SAFETENSORS_WEIGHTS_NAME } from './sharded.js';
import { type TensorToWrite, writeSafetensors } from './safetensors-writer.js';

/** What {@link writeHfCheckpoint} writes. */
export interface HfCheckpointInput {
  /** The Hugging Face `config.json` object (e.g. `openCheckpoint(path).configJson`). */
  readonly configJson: Readonly<Record<string, unknown>>;
  /** The weights under Hugging Face names (`[out, in]` layout); every tensor is written as F32. */
  readonly weights: WeightSource;
}

/**
 * Writes a Hugging Face model folder that transformers' `AutoModelForCausalLM.from_pretrained`
 * loads: `config.json` (with `torch_dtype`/`dtype` float32) and a single `model.safetensors` holding
 * every tensor of `weights` as float32 (with `{"format": "pt"}` metadata, as `save_pretrained`
 * writes). Each file is written atomically. Tokenizer files are the caller's (see `lora convert`).
 *
 * @returns the paths written.
 * @example
 * ```ts
 * const ckpt = await openCheckpoint('SmolLM2-135M-Instruct.Q4_1.gguf');
 * await writeHfCheckpoint('out/', ckpt);
 * await ckpt.weights.close();
 * ```
 */
export async function writeHfCheckpoint(dir: string, input: HfCheckpointInput): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const tensors: Record<string, TensorToWrite> = {};
  for (const name of input.weights.keys()) {
    const t = await input.weights.get(name);
    tensors[name] =
      t.dtype === 'float32'
        ? { dtype: 'F32', shape: t.shape, data: t.data as Float32Array }
        : { dtype: t.dtype === 'int32' ? 'I32' : 'BOOL', shape: t.shape, data: t.data };
  }
  const weightsPath = join(dir, SAFETENSORS_WEIGHTS_NAME);
  await writeSafetensors(weightsPath, tensors, { metadata: { format: 'pt' } });
  const configPath = join(dir, 'config.json');
  const config = { ...input.configJson, torch_dtype: 'float32', dtype: 'float32' };
  await writeJsonAtomic(configPath, config);
  return [configPath, weightsPath];
}

/** Writes pretty-printed JSON through a temporary file and a rename, so readers never see half a file. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const { rename } = await import('node:fs/promises');
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temporary, path);
}
