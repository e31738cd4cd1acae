import { AssetNotFoundError, FileFormatError, parseJson } from '@lora/core';
import { z } from 'zod';
import type { RawTensor } from './dtype.js';
import { openFileSource, type FileOpener } from './file-source.js';
import type { HostTensor, WeightSource } from './host-tensor.js';
import { SafetensorsReader } from './safetensors-reader.js';

/** Name of a single-file checkpoint in a Hugging Face model directory. */
export const SAFETENSORS_WEIGHTS_NAME = 'model.safetensors';
/** Name of the shard index of a sharded checkpoint. */
export const SAFETENSORS_INDEX_NAME = 'model.safetensors.index.json';

/** Parsed `model.safetensors.index.json`. */
export interface SafetensorsIndex {
  /** `total_size` (bytes of all tensors) and whatever else the writer put there. */
  metadata?: { total_size?: number | undefined; [key: string]: unknown } | undefined;
  /** Tensor name → shard file name. */
  weight_map: Record<string, string>;
}

const IndexSchema = z.object({
  metadata: z.looseObject({ total_size: z.number().nonnegative().optional() }).optional(),
  weight_map: z.record(z.string(), z.string().min(1)),
}) satisfies z.ZodType<SafetensorsIndex>;

/** Options for opening checkpoints. */
export interface OpenWeightsOptions {
  /** How to open files; defaults to the local file system (`NodeFileSource`). */
  readonly openFile?: FileOpener;
}

function dirname(path: string): string {
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return cut < 0 ? '.' : path.slice(0, cut);
}

function join(dir: string, file: string): string {
  return dir === '' || dir === '.' ? file : `${dir.replace(/[/\\]+$/, '')}/${file}`;
}

async function readText(openFile: FileOpener, path: string): Promise<string> {
  const source = await openFile(path);
  try {
    return new TextDecoder().decode(await source.read(0, source.size()));
  } finally {
    await source.close();
  }
}

/**
 * The tensors of a sharded checkpoint (`model.safetensors.index.json` + `model-0000i-of-0000n
 * .safetensors`) as one {@link WeightSource}. `open` reads every shard's header (so `shape()` can
 * answer synchronously and a tensor missing from its shard is reported up front); tensor data is
 * only read by `get`.
 *
 * @example
 * ```ts
 * const weights = await ShardedWeightSource.open('llama/model.safetensors.index.json');
 * const q = await weights.get('model.layers.0.self_attn.q_proj.weight');
 * ```
 */
export class ShardedWeightSource implements WeightSource {
  private constructor(
    /** Path of the index file. */
    readonly file: string,
    private readonly index: SafetensorsIndex,
    private readonly shards: ReadonlyMap<string, SafetensorsReader>,
  ) {}

  /** Opens the index at `indexPath` and the headers of the shards it lists. */
  static async open(indexPath: string, options: OpenWeightsOptions = {}): Promise<ShardedWeightSource> {
    const openFile = options.openFile ?? openFileSource;
    const index = parseJson(await readText(openFile, indexPath), IndexSchema, { file: indexPath });
    const firstTensorOf = new Map<string, string>();
    for (const [tensor, shard] of Object.entries(index.weight_map)) {
      if (!firstTensorOf.has(shard)) firstTensorOf.set(shard, tensor);
    }
    const shards = new Map<string, SafetensorsReader>();
    try {
      for (const [shard, tensor] of firstTensorOf) {
        const path = join(dirname(indexPath), shard);
        try {
          shards.set(shard, await SafetensorsReader.open(await openFile(path)));
        } catch (error) {
          if (!AssetNotFoundError.isInstance(error)) throw error;
          throw new FileFormatError({
            file: indexPath,
            field: tensor,
            message: `shard "${shard}" (${path}) does not exist; download every shard the index lists`,
            cause: error,
          });
        }
      }
      for (const [tensor, shard] of Object.entries(index.weight_map)) {
        if (!shards.get(shard)?.has(tensor)) {
          throw new FileFormatError({ file: indexPath, field: tensor, message: `shard "${shard}" has no tensor "${tensor}"` });
        }
      }
    } catch (error) {
      await Promise.all([...shards.values()].map((s) => s.close()));
      throw error;
    }
    return new ShardedWeightSource(indexPath, index, shards);
  }

  /** The index's `metadata` object (`total_size` and anything else it holds). */
  metadata(): SafetensorsIndex['metadata'] {
    return this.index.metadata;
  }

  /** Names of every tensor, in index order. */
  keys(): readonly string[] {
    return Object.keys(this.index.weight_map);
  }

  has(name: string): boolean {
    return Object.hasOwn(this.index.weight_map, name);
  }

  shape(name: string): readonly number[] {
    return this.shardOf(name).shape(name);
  }

  async get(name: string): Promise<HostTensor> {
    return this.shardOf(name).get(name);
  }

  /** Reads one tensor's bytes exactly as stored in its shard. */
  async getRaw(name: string): Promise<RawTensor> {
    return this.shardOf(name).getRaw(name);
  }

  async close(): Promise<void> {
    await Promise.all([...this.shards.values()].map((s) => s.close()));
  }

  private shardOf(name: string): SafetensorsReader {
    const shard = this.has(name) ? this.index.weight_map[name] : undefined;
    const reader = shard === undefined ? undefined : this.shards.get(shard);
    if (reader === undefined) {
      throw new FileFormatError({ file: this.file, field: name, message: `the index has no tensor "${name}"` });
    }
    return reader;
  }
}

/** A checkpoint that is either one safetensors file or a sharded one. */
export type SafetensorsWeights = SafetensorsReader | ShardedWeightSource;

/**
 * Opens the weights of a Hugging Face model directory: `model.safetensors` if present, else
 * `model.safetensors.index.json` and its shards. Throws `AssetNotFoundError` listing both paths
 * when neither exists.
 */
export async function openWeights(dir: string, options: OpenWeightsOptions = {}): Promise<SafetensorsWeights> {
  const openFile = options.openFile ?? openFileSource;
  const single = join(dir, SAFETENSORS_WEIGHTS_NAME);
  const index = join(dir, SAFETENSORS_INDEX_NAME);
  try {
    return await SafetensorsReader.open(await openFile(single));
  } catch (error) {
    if (!AssetNotFoundError.isInstance(error)) throw error;
  }
  try {
    return await ShardedWeightSource.open(index, options);
  } catch (error) {
    if (!AssetNotFoundError.isInstance(error) || (error as AssetNotFoundError).asset !== index) throw error;
    throw new AssetNotFoundError({
      asset: `safetensors weights in ${dir}`,
      searched: [single, index],
      hint:
        'a Hugging Face model directory holds model.safetensors, or model.safetensors.index.json and its shards; ' +
        'PyTorch .bin checkpoints must be converted to safetensors first',
      cause: error,
    });
  }
}
