import { FileFormatError } from '@lora/core';
import { decodeTensor, type RawTensor, type SafetensorsDtype } from './dtype.js';
import { openFileSource, type FileSource } from './file-source.js';
import type { HostTensor, WeightSource } from './host-tensor.js';
import { readHeader, type TensorEntry } from './safetensors-header.js';

/**
 * Reads a `.safetensors` file lazily: `open` reads and validates only the header, and each
 * `get` / `getRaw` reads only that tensor's bytes.
 *
 * @example
 * ```ts
 * const reader = await SafetensorsReader.open('model.safetensors');
 * const embed = await reader.get('model.embed_tokens.weight'); // BF16 on disk → float32 HostTensor
 * const packed = await reader.getRaw('model.layers.0.mlp.down_proj.weight'); // NF4 U8 bytes as stored
 * await reader.close();
 * ```
 */
export class SafetensorsReader implements WeightSource {
  private readonly entries: ReadonlyMap<string, TensorEntry>;

  private constructor(
    private readonly source: FileSource,
    private readonly dataStart: number,
    tensors: readonly TensorEntry[],
    private readonly meta: Readonly<Record<string, string>> | undefined,
  ) {
    this.entries = new Map(tensors.map((t) => [t.name, t]));
  }

  /**
   * Opens a file by path (Node) or any {@link FileSource}, and validates its header. The source
   * is closed again if the header is invalid.
   */
  static async open(source: string | FileSource): Promise<SafetensorsReader> {
    const file = typeof source === 'string' ? await openFileSource(source) : source;
    try {
      const header = await readHeader(file);
      return new SafetensorsReader(file, header.dataStart, header.tensors, header.metadata);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** Path or name of the file, as used in error messages. */
  get file(): string {
    return this.source.name;
  }

  /** The header's `__metadata__` map (`undefined` when the file has none). */
  metadata(): Readonly<Record<string, string>> | undefined {
    return this.meta;
  }

  keys(): readonly string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  shape(name: string): readonly number[] {
    return this.entry(name).shape;
  }

  /** The stored safetensors dtype of a tensor (before decoding). */
  dtype(name: string): SafetensorsDtype {
    return this.entry(name).dtype;
  }

  /** Reads one tensor and decodes it to float32 / int32 / bool (see `decodeTensor`). */
  async get(name: string): Promise<HostTensor> {
    return decodeTensor(await this.getRaw(name), { file: this.file, tensor: name });
  }

  /** Reads one tensor's bytes exactly as stored, e.g. packed NF4 `U8` payloads. */
  async getRaw(name: string): Promise<RawTensor> {
    const entry = this.entry(name);
    const bytes = await this.source.read(this.dataStart + entry.begin, entry.end - entry.begin);
    return { dtype: entry.dtype, shape: entry.shape, bytes };
  }

  async close(): Promise<void> {
    await this.source.close();
  }

  private entry(name: string): TensorEntry {
    const entry = this.entries.get(name);
    if (entry === undefined) {
      throw new FileFormatError({
        file: this.file,
        field: name,
        message: `no tensor named "${name}" (the file has ${this.entries.size} tensors; check the key prefix)`,
      });
    }
    return entry;
  }
}
