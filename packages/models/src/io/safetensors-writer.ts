import { InvalidArgumentError } from '@lora/core';
import { nodeBuiltin } from '@lora/core/internal';
import { dtypeBits, dtypeRank, encodeTensor, numElements, SAFETENSORS_DTYPES, type EncodableData, type SafetensorsDtype } from './dtype.js';
import { MAX_HEADER_SIZE } from './safetensors-header.js';

/**
 * A tensor to write: host data encoded into `dtype` (see `encodeTensor`), or `bytes` written
 * as they are (any dtype, e.g. packed NF4 `U8` or data read with `getRaw`).
 */
export type TensorToWrite =
  | { readonly dtype: SafetensorsDtype; readonly shape: readonly number[]; readonly data: EncodableData }
  | { readonly dtype: SafetensorsDtype; readonly shape: readonly number[]; readonly bytes: Uint8Array };

/** Options of {@link serializeSafetensors} and {@link writeSafetensors}. */
export interface SafetensorsWriteOptions {
  /**
   * Free-form `__metadata__` strings, e.g. `{ format: 'pt' }`. Written in insertion order (the
   * Rust serializer writes them in hash order, so files with several keys match Python's only
   * after parsing).
   */
  readonly metadata?: Readonly<Record<string, string>>;
}

interface PlannedTensor {
  readonly name: string;
  readonly tensor: TensorToWrite;
  readonly byteLength: number;
}

interface Plan {
  /** 8-byte length prefix followed by the space-padded JSON header. */
  readonly head: Uint8Array;
  /** Tensors in file order. */
  readonly tensors: readonly PlannedTensor[];
  readonly totalBytes: number;
}

const utf8 = new TextEncoder();

/** Rust's `String` ordering: byte-wise on UTF-8, i.e. by code point (not UTF-16 units). */
function compareNames(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  return x.length - y.length;
}

function invalid(name: string, message: string): InvalidArgumentError {
  return new InvalidArgumentError({ argument: `tensors["${name}"]`, message });
}

function byteLengthOf(name: string, tensor: TensorToWrite): number {
  if (!(SAFETENSORS_DTYPES as readonly string[]).includes(tensor.dtype)) {
    throw invalid(name, `unknown dtype "${tensor.dtype}" (expected one of ${SAFETENSORS_DTYPES.join(', ')})`);
  }
  if (!tensor.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalid(name, `shape [${tensor.shape.join(', ')}] must hold non-negative integers`);
  }
  const count = numElements(tensor.shape);
  const bits = count * dtypeBits(tensor.dtype);
  if (bits % 8 !== 0) throw invalid(name, `${count} elements of ${tensor.dtype} do not fill whole bytes`);
  if ('bytes' in tensor) {
    if (tensor.bytes.length !== bits / 8) {
      throw invalid(name, `bytes has ${tensor.bytes.length} bytes; ${tensor.dtype} × [${tensor.shape}] needs ${bits / 8}`);
    }
  } else if (tensor.data.length !== count) {
    throw invalid(name, `data has ${tensor.data.length} elements; shape [${tensor.shape}] needs ${count}`);
  }
  return bits / 8;
}

/**
 * Lays a file out as the Rust serializer does: tensors sorted by dtype alignment (descending
 * `Dtype` enum order) then by name, `__metadata__` first in the header, compact JSON with keys
 * `dtype`, `shape`, `data_offsets`, padded with spaces to a multiple of 8 bytes.
 */
function plan(tensors: Readonly<Record<string, TensorToWrite>>, options: SafetensorsWriteOptions): Plan {
  const planned = Object.entries(tensors).map(([name, tensor]) => {
    if (name === '__metadata__') throw invalid(name, '"__metadata__" is reserved; pass options.metadata instead');
    return { name, tensor, byteLength: byteLengthOf(name, tensor) };
  });
  planned.sort((a, b) => dtypeRank(b.tensor.dtype) - dtypeRank(a.tensor.dtype) || compareNames(a.name, b.name));

  const header: Record<string, unknown> = {};
  if (options.metadata !== undefined) {
    for (const [key, value] of Object.entries(options.metadata)) {
      if (typeof value !== 'string') {
        throw new InvalidArgumentError({ argument: `metadata.${key}`, message: 'metadata values must be strings' });
      }
    }
    header.__metadata__ = options.metadata;
  }
  let offset = 0;
  for (const t of planned) {
    header[t.name] = { dtype: t.tensor.dtype, shape: [...t.tensor.shape], data_offsets: [offset, offset + t.byteLength] };
    offset += t.byteLength;
  }
  // JSON.stringify escapes exactly what serde_json does (", \, control characters as \n or \u00xx).
  const json = utf8.encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > MAX_HEADER_SIZE) {
    throw new InvalidArgumentError({ argument: 'tensors', message: `header would be ${padded} bytes (limit ${MAX_HEADER_SIZE})` });
  }
  const head = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return { head, tensors: planned, totalBytes: head.length + offset };
}

function tensorBytes(t: PlannedTensor): Uint8Array {
  return 'bytes' in t.tensor ? t.tensor.bytes : encodeTensor(t.tensor.dtype, t.tensor.data, t.name);
}

/**
 * Serializes tensors into the bytes of a `.safetensors` file, identical to what Python's
 * `safetensors.torch.save_file` writes for the same tensors (and at most one metadata key).
 *
 * @example
 * ```ts
 * const bytes = serializeSafetensors(
 *   { 'lora_A.weight': { dtype: 'F32', shape: [8, 64], data: new Float32Array(512) } },
 *   { metadata: { format: 'pt' } },
 * );
 * ```
 */
export function serializeSafetensors(tensors: Readonly<Record<string, TensorToWrite>>, options: SafetensorsWriteOptions = {}): Uint8Array {
  const { head, tensors: planned, totalBytes } = plan(tensors, options);
  const out = new Uint8Array(totalBytes);
  out.set(head, 0);
  let position = head.length;
  for (const t of planned) {
    out.set(tensorBytes(t), position);
    position += t.byteLength;
  }
  return out;
}

async function writeAll(
  handle: { write(b: Uint8Array, o: number, l: number): Promise<{ bytesWritten: number }> },
  bytes: Uint8Array,
): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    done += (await handle.write(bytes, done, bytes.length - done)).bytesWritten;
  }
}

/**
 * Writes a `.safetensors` file (Node), byte-identical to {@link serializeSafetensors}, one tensor
 * at a time. Atomic: data goes to a temporary file in the same directory, is flushed, and is then
 * renamed over `path`, so readers never see a partial file.
 */
export async function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, TensorToWrite>>,
  options: SafetensorsWriteOptions = {},
): Promise<void> {
  const { head, tensors: planned } = plan(tensors, options);
  const fs = await nodeBuiltin('fs/promises', 'writeSafetensors(path)');
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const handle = await fs.open(temporary, 'wx');
  try {
    try {
      await writeAll(handle, head);
      for (const t of planned) await writeAll(handle, tensorBytes(t));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, path);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}
