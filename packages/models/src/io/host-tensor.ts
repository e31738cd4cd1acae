import { FileFormatError } from '@lora/core';

/**
 * A tensor on the host (plain typed array + shape), before it becomes a tfjs tensor. F16/BF16
 * are widened to float32, integer types to int32 (I64 checked to fit), BOOL to bool.
 */
export interface HostTensor {
  /** Element type once decoded on the host (tfjs dtypes). */
  readonly dtype: 'float32' | 'int32' | 'bool';
  readonly shape: readonly number[];
  /** The typed array backing the tensor. */
  readonly data: Float32Array | Int32Array | Uint8Array;
}

/**
 * A read-only collection of named tensors: a safetensors file, a sharded checkpoint, a llama2.c
 * import. Reads are per tensor, so a loader never holds a whole checkpoint in memory.
 */
export interface WeightSource {
  /** Names of every tensor, in file order. */
  keys(): readonly string[];
  /** True when a tensor of that name exists. */
  has(name: string): boolean;
  /** Shape of a tensor without reading its data. */
  shape(name: string): readonly number[];
  /** Reads and decodes one tensor. Throws a FileFormatError naming the file and tensor if absent. */
  get(name: string): Promise<HostTensor>;
  /**
   * Reads one tensor's stored bytes undecoded (packed U8 payloads such as bitsandbytes NF4).
   * Optional: in-memory sources may not have it.
   */
  getRaw?(name: string): Promise<{ readonly dtype: string; readonly shape: readonly number[]; readonly bytes: Uint8Array }>;
  /** Releases file handles. */
  close(): Promise<void>;
}

/** A {@link WeightSource} over tensors already in memory (tests, llama2.c import). */
export class MemoryWeightSource implements WeightSource {
  constructor(
    private readonly tensors: ReadonlyMap<string, HostTensor>,
    private readonly name = '<memory>',
  ) {}

  keys(): readonly string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  shape(name: string): readonly number[] {
    return this.require(name).shape;
  }

  async get(name: string): Promise<HostTensor> {
    return this.require(name);
  }

  async close(): Promise<void> {}

  private require(name: string): HostTensor {
    const t = this.tensors.get(name);
    if (t === undefined) throw new FileFormatError({ file: this.name, field: name, message: `no tensor named "${name}".` });
    return t;
  }
}

/** Element types a {@link HostTensor} can hold once decoded on the host (tfjs dtypes). */
export type HostDtype = HostTensor['dtype'];

/** Typed array backing a {@link HostTensor}. */
export type HostData = HostTensor['data'];
