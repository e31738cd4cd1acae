import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '@lora/core';
import { dtypeBits, numElements } from './dtype.js';
import { type SafetensorsWriteOptions, type TensorToWrite, writeSafetensors } from './safetensors-writer.js';
import { SAFETENSORS_INDEX_NAME, SAFETENSORS_WEIGHTS_NAME } from './sharded.js';

/** transformers 5's default `max_shard_size` of `save_pretrained` ("50GB", decimal units). */
export const DEFAULT_MAX_SHARD_SIZE = 50_000_000_000;

/** Options of {@link writeShardedSafetensors}. */
export interface ShardedWriteOptions extends SafetensorsWriteOptions {
  /** Largest shard in bytes of tensor data (default {@link DEFAULT_MAX_SHARD_SIZE}); a larger tensor gets a shard of its own. */
  readonly maxShardSize?: number;
}

/** Bytes of a tensor's data once written. */
function byteLength(tensor: TensorToWrite): number {
  return 'bytes' in tensor ? tensor.bytes.length : (numElements(tensor.shape) * dtypeBits(tensor.dtype)) / 8;
}

/**
 * Writes the weights of a Hugging Face model folder as transformers' `save_pretrained` does: one
 * `model.safetensors` when everything fits in `maxShardSize`, otherwise
 * `model-0000i-of-0000n.safetensors` shards (filled in `tensors` order, as huggingface_hub's
 * `split_torch_state_dict_into_shards`) plus `model.safetensors.index.json` (`metadata.total_size`,
 * `metadata.total_parameters`, sorted `weight_map`). Every file is written atomically.
 *
 * @returns the paths written.
 * @example
 * ```ts
 * await writeShardedSafetensors('out', tensors, { metadata: { format: 'pt' }, maxShardSize: 5e9 });
 * ```
 */
export async function writeShardedSafetensors(
  dir: string,
  tensors: Readonly<Record<string, TensorToWrite>>,
  options: ShardedWriteOptions = {},
): Promise<string[]> {
  const maxShardSize = options.maxShardSize ?? DEFAULT_MAX_SHARD_SIZE;
  if (!(maxShardSize > 0)) {
    throw new InvalidArgumentError({ argument: 'maxShardSize', message: `must be a positive number of bytes, got ${maxShardSize}.` });
  }
  const writeOptions = options.metadata === undefined ? {} : { metadata: options.metadata };
  const shards: string[][] = [];
  let current: string[] = [];
  let currentSize = 0;
  let totalSize = 0;
  let totalParameters = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    const size = byteLength(tensor);
    totalSize += size;
    totalParameters += numElements(tensor.shape);
    if (current.length > 0 && currentSize + size > maxShardSize) {
      shards.push(current);
      current = [];
      currentSize = 0;
    }
    current.push(name);
    currentSize += size;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  if (shards.length === 1) {
    const path = join(dir, SAFETENSORS_WEIGHTS_NAME);
    await writeSafetensors(path, tensors, writeOptions);
    return [path];
  }
  const width = 5;
  const n = String(shards.length).padStart(width, '0');
  const written: string[] = [];
  const weightMap: Record<string, string> = {};
  for (const [i, names] of shards.entries()) {
    const file = `model-${String(i + 1).padStart(width, '0')}-of-${n}.safetensors`;
    const part: Record<string, TensorToWrite> = {};
    for (const name of names) {
      part[name] = tensors[name] as TensorToWrite;
      weightMap[name] = file;
    }
    const path = join(dir, file);
    await writeSafetensors(path, part, writeOptions);
    written.push(path);
  }
  const sortedMap = Object.fromEntries(
    Object.keys(weightMap)
      .sort()
      .map((k) => [k, weightMap[k]]),
  );
  const index = { metadata: { total_parameters: totalParameters, total_size: totalSize }, weight_map: sortedMap };
  const indexPath = join(dir, SAFETENSORS_INDEX_NAME);
  const temporary = `${indexPath}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(index, null, 2)}\n`);
  await rename(temporary, indexPath);
  written.push(indexPath);
  return written;
}
