import { AssetNotFoundError } from '../errors/asset-not-found-error.js';
import { FileFormatError } from '../errors/file-format-error.js';
import { ggmlTypeInfo } from './ggml-types.js';
import { nodeBuiltin } from '../node-builtin.js';

// Why not `@huggingface/gguf` (0.4.6, checked 2026-12): it throws plain `Error`s without the key
// or tensor involved, returns every u64 (counts, dims, offsets) as bigint, does not check tensor
// types, offset alignment or that tensor data lies inside the file, and pulls in
// `@huggingface/tasks`. The format is small (llama.cpp `gguf/gguf_reader.py`, `ggml/src/gguf.cpp`),
// so this module parses it directly, bounding every count and length by the file size.

/**
 * A GGUF metadata value. Integers are `number` when they fit exactly (every u8–u32/i8–i32, and
 * u64/i64 up to 2^53); `bigint` only for u64/i64 beyond that. Arrays keep their element values.
 */
export type GgufValue = string | number | bigint | boolean | GgufValue[];

/** One tensor's entry in a GGUF header. */
export interface GgufTensorInfo {
  /** llama.cpp tensor name, e.g. `blk.0.attn_q.weight`. */
  readonly name: string;
  /** Dimensions in ggml order: fastest-varying first (`dims[0]` is the row length). */
  readonly dims: readonly number[];
  /** ggml type id (see `GgmlType`). */
  readonly type: number;
  /** ggml type name, e.g. `Q4_1`. */
  readonly typeName: string;
  /** Absolute byte offset of the tensor data in the file. */
  readonly offset: number;
  /** Bytes of tensor data. */
  readonly byteLength: number;
}

/** A parsed GGUF header: metadata and tensor directory, no tensor data. */
export interface GgufFile {
  /** Path or name of the file, as used in error messages. */
  readonly file: string;
  /** GGUF format version (2 or 3). */
  readonly version: number;
  /** Data alignment in bytes (`general.alignment`, default 32). */
  readonly alignment: number;
  /** Absolute byte offset where the tensor data section starts. */
  readonly dataOffset: number;
  /** Metadata key → value, in file order. */
  readonly metadata: Readonly<Record<string, GgufValue>>;
  /** Tensor infos, in file order. */
  readonly tensors: readonly GgufTensorInfo[];
}

/**
 * Random-access bytes a GGUF header is read from. `@lora/models`' `FileSource` satisfies it, as
 * does any object with these three members (a `Blob` wrapper, a buffer in memory).
 */
export interface GgufByteSource {
  /** Path or descriptive name, used in error messages. */
  readonly name: string;
  /** Total size in bytes. */
  size(): number;
  /** Reads exactly `length` bytes at `offset` (never called past the end). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

const GGUF_MAGIC = 0x46554747; // "GGUF" read as little-endian u32
const SUPPORTED_VERSIONS = [2, 3];
const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4; // GGML_MAX_DIMS
const MAX_ARRAY_DEPTH = 8;
const CHUNK = 1 << 20;

/** Smallest encoded size of one value of each GGUF value type (arrays: type + count). */
const MIN_VALUE_BYTES: Readonly<Record<number, number>> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  8: 8,
  9: 12,
  10: 8,
  11: 8,
  12: 8,
};
const VALUE_TYPE_NAMES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'];

const utf8 = new TextDecoder('utf-8');

/** Sequential reader over a {@link GgufByteSource} that fetches the header in bounded chunks. */
class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(this.buf.buffer);
  private bufStart = 0;
  readonly size: number;
  /** Key or tensor the bytes being read belong to, for error messages. */
  field: string | undefined;

  constructor(private readonly source: GgufByteSource) {
    this.size = source.size();
  }

  get file(): string {
    return this.source.name;
  }

  fail(message: string, field = this.field): never {
    throw new FileFormatError({ file: this.source.name, field, message });
  }

  remaining(): number {
    return this.size - this.pos;
  }

  /** Makes `n` bytes at `pos` available in the buffer; returns their index in it. */
  private async need(n: number, what: string): Promise<number> {
    if (n > this.size - this.pos) {
      this.fail(`truncated file: ${what} needs ${n} bytes at offset ${this.pos}, but the file has ${this.size} bytes`);
    }
    const at = this.pos - this.bufStart;
    if (at >= 0 && at + n <= this.buf.byteLength) return at;
    const length = Math.min(Math.max(n, CHUNK), this.size - this.pos);
    let bytes: Uint8Array;
    try {
      bytes = await this.source.read(this.pos, length);
    } catch (error) {
      if (FileFormatError.isInstance(error)) throw error;
      throw new FileFormatError({
        file: this.source.name,
        field: this.field,
        message: `could not read ${length} bytes at offset ${this.pos}: ${(error as Error).message}`,
        cause: error,
      });
    }
    if (bytes.byteLength !== length) this.fail(`truncated read: got ${bytes.byteLength} of ${length} bytes at offset ${this.pos}`);
    this.buf = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.bufStart = this.pos;
    return 0;
  }

  async u8(what: string): Promise<number> {
    const at = await this.need(1, what);
    this.pos += 1;
    return this.view.getUint8(at);
  }

  async u32(what: string): Promise<number> {
    const at = await this.need(4, what);
    this.pos += 4;
    return this.view.getUint32(at, true);
  }

  async u64(what: string): Promise<bigint> {
    const at = await this.need(8, what);
    this.pos += 8;
    return this.view.getBigUint64(at, true);
  }

  /** A u64 count or length that must be a safe integer no larger than `max`. */
  async length(what: string, max: number, unit: string): Promise<number> {
    const value = await this.u64(what);
    if (value > BigInt(max)) {
      this.fail(
        `${what} ${value} runs past the end of the file (truncated or corrupt): at most ${Math.max(max, 0)} ${unit} fit in the ${this.remaining()} bytes left`,
      );
    }
    return Number(value);
  }

  async string(what: string): Promise<string> {
    const n = await this.length(`${what} length`, this.remaining() - 8, 'bytes');
    const at = await this.need(n, what);
    this.pos += n;
    return utf8.decode(this.buf.subarray(at, at + n));
  }

  /** One scalar of value type `type` (not string/array). */
  async scalar(type: number): Promise<number | bigint | boolean> {
    const size = MIN_VALUE_BYTES[type] as number;
    const at = await this.need(size, `${VALUE_TYPE_NAMES[type]} value`);
    this.pos += size;
    const v = this.view;
    switch (type) {
      case 0:
        return v.getUint8(at);
      case 1:
        return v.getInt8(at);
      case 2:
        return v.getUint16(at, true);
      case 3:
        return v.getInt16(at, true);
      case 4:
        return v.getUint32(at, true);
      case 5:
        return v.getInt32(at, true);
      case 6:
        return v.getFloat32(at, true);
      case 7:
        return v.getUint8(at) !== 0;
      case 10:
        return exactNumber(v.getBigUint64(at, true));
      case 11:
        return exactNumber(v.getBigInt64(at, true));
      case 12:
        return v.getFloat64(at, true);
      default:
        return this.fail(`unknown value type ${type}`);
    }
  }

  async value(type: number, depth: number): Promise<GgufValue> {
    if (MIN_VALUE_BYTES[type] === undefined) {
      this.fail(`unknown metadata value type ${type} (known: 0–12, ${VALUE_TYPE_NAMES.join(', ')})`);
    }
    if (type === 8) return this.string('string value');
    if (type !== 9) return this.scalar(type);
    if (depth >= MAX_ARRAY_DEPTH) this.fail(`arrays nested deeper than ${MAX_ARRAY_DEPTH} levels`);
    const itemType = await this.u32('array item type');
    const itemBytes = MIN_VALUE_BYTES[itemType];
    if (itemBytes === undefined) this.fail(`unknown array item value type ${itemType} (known: 0–12)`);
    const count = await this.length('array length', Math.floor((this.remaining() - 8) / itemBytes), 'items');
    const out: GgufValue[] = new Array<GgufValue>(count);
    for (let i = 0; i < count; i++) out[i] = await this.value(itemType, depth + 1);
    return out;
  }
}

function exactNumber(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/**
 * Parses the header of a GGUF file (llama.cpp's format: magic, version, metadata key/values,
 * tensor infos) from any {@link GgufByteSource}, reading only the header bytes in bounded chunks.
 * Tensor data is not read; each tensor's absolute `offset` and `byteLength` are checked to lie in
 * the file and be aligned.
 *
 * @throws `FileFormatError` naming the file (and the key or tensor when known) for a wrong magic,
 *   an unsupported version, truncation, impossible counts or lengths, unknown value or ggml types,
 *   misaligned or out-of-file tensor data.
 * @example
 * ```ts
 * const bytes = new Uint8Array(await blob.arrayBuffer());
 * const gguf = await readGguf({ name: 'model.gguf', size: () => bytes.byteLength,
 *   read: async (offset, length) => bytes.slice(offset, offset + length) });
 * ```
 */
export async function readGguf(source: GgufByteSource): Promise<GgufFile> {
  const c = new Cursor(source);
  const magic = await c.u32('magic');
  if (magic !== GGUF_MAGIC) {
    const hex = magic.toString(16).padStart(8, '0');
    c.fail(`not a GGUF file: the first 4 bytes are 0x${hex}, expected "GGUF" (0x${GGUF_MAGIC.toString(16)} little-endian)`);
  }
  const version = await c.u32('version');
  if (!SUPPORTED_VERSIONS.includes(version)) {
    const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
    const hint = SUPPORTED_VERSIONS.includes(swapped) ? ' (a big-endian file, which is not supported)' : '';
    c.fail(`unsupported GGUF version ${version}${hint}; supported: ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  // Smallest tensor info: name length (8) + n_dims (4) + type (4) + offset (8).
  const tensorCount = await c.length('tensor count', Math.floor((c.remaining() - 8) / 24), 'tensor infos');
  // Smallest key/value: key length (8) + value type (4) + a 1-byte value.
  const kvCount = await c.length('metadata key/value count', Math.floor(c.remaining() / 13), 'key/value pairs');

  const metadata: Record<string, GgufValue> = Object.create(null) as Record<string, GgufValue>;
  for (let i = 0; i < kvCount; i++) {
    c.field = `metadata[${i}]`;
    const key = await c.string('metadata key');
    c.field = key;
    if (Object.prototype.hasOwnProperty.call(metadata, key)) c.fail(`duplicate metadata key "${key}"`);
    const type = await c.u32('value type');
    metadata[key] = await c.value(type, 0);
  }

  c.field = 'general.alignment';
  let alignment = DEFAULT_ALIGNMENT;
  const rawAlignment = metadata['general.alignment'];
  if (rawAlignment !== undefined) {
    if (
      typeof rawAlignment !== 'number' ||
      !Number.isInteger(rawAlignment) ||
      rawAlignment <= 0 ||
      (rawAlignment & (rawAlignment - 1)) !== 0
    ) {
      return c.fail(`general.alignment must be a power-of-two integer, found ${String(rawAlignment)}`);
    }
    alignment = rawAlignment;
  }

  const infos: { name: string; dims: number[]; type: number; relative: bigint }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    c.field = `tensor[${i}]`;
    const name = await c.string('tensor name');
    c.field = name;
    if (names.has(name)) c.fail(`duplicate tensor name "${name}"`);
    names.add(name);
    const nDims = await c.u32('number of dimensions');
    if (nDims > MAX_DIMS) c.fail(`${nDims} dimensions; ggml tensors have at most ${MAX_DIMS}`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const dim = await c.u64(`dimension ${d}`);
      if (dim > BigInt(Number.MAX_SAFE_INTEGER)) c.fail(`dimension ${d} is ${dim}, too large`);
      dims.push(Number(dim));
    }
    const type = await c.u32('ggml type');
    const relative = await c.u64('data offset');
    infos.push({ name, dims, type, relative });
  }
  c.field = undefined;
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;

  const tensors: GgufTensorInfo[] = infos.map(({ name, dims, type, relative }) => {
    const fail = (message: string): never => c.fail(message, name);
    const info = ggmlTypeInfo(type);
    if (info === undefined) fail(`unknown ggml type ${type}`);
    const { blockSize, typeSize, name: typeName } = info as NonNullable<typeof info>;
    let count = 1;
    for (const d of dims) {
      count *= d;
      if (!Number.isSafeInteger(count)) fail(`dims [${dims.join(', ')}] have more than 2^53 elements`);
    }
    const rowLength = dims[0] ?? 1;
    if (rowLength % blockSize !== 0) {
      fail(`dims[0] = ${rowLength} is not a multiple of the ${typeName} block size ${blockSize}`);
    }
    const byteLength = (count / blockSize) * typeSize;
    if (relative % BigInt(alignment) !== 0n) fail(`data offset ${relative} is not a multiple of the alignment ${alignment}`);
    const offset = BigInt(dataOffset) + relative;
    if (offset + BigInt(byteLength) > BigInt(c.size)) {
      fail(`tensor data (${byteLength} bytes at offset ${offset}) lies outside the file (${c.size} bytes)`);
    }
    return Object.freeze({ name, dims: Object.freeze(dims), type, typeName, offset: Number(offset), byteLength });
  });

  return Object.freeze({
    file: source.name,
    version,
    alignment,
    dataOffset,
    metadata: Object.freeze(metadata),
    tensors: Object.freeze(tensors),
  });
}

/**
 * Opens a GGUF file on disk and parses its header (metadata and tensor directory) without
 * reading tensor data: only the header bytes are read, in chunks of at most 1 MiB.
 *
 * @throws `AssetNotFoundError` when nothing is at `path`; `FileFormatError` naming the file (and
 *   the key or tensor when known) for any malformed header (see {@link readGguf}).
 * @example
 * ```ts
 * const gguf = await openGguf('SmolLM2-135M-Instruct.Q4_1.gguf');
 * gguf.metadata['general.architecture']; // 'llama'
 * gguf.tensors.find((t) => t.name === 'token_embd.weight')?.typeName; // 'Q8_0'
 * ```
 */
export async function openGguf(path: string): Promise<GgufFile> {
  const fs = await nodeBuiltin('fs/promises', 'openGguf(path)');
  let handle: Awaited<ReturnType<typeof fs.open>>;
  try {
    handle = await fs.open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AssetNotFoundError({ asset: path, searched: [path], cause: error });
    }
    throw new FileFormatError({ file: path, message: `cannot open: ${(error as Error).message}`, cause: error });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new FileFormatError({ file: path, message: 'not a regular file' });
    return await readGguf({
      name: path,
      size: () => stat.size,
      read: async (offset, length) => {
        const out = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(out, done, length - done, offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return done === length ? out : out.subarray(0, done);
      },
    });
  } finally {
    await handle.close();
  }
}
