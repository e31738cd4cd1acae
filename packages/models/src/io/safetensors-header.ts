import { FileFormatError } from '@lora/core';
import { formatIssuePath } from '@lora/core/internal';
import { z } from 'zod';
import { dtypeBits, SAFETENSORS_DTYPES, type SafetensorsDtype } from './dtype.js';
import type { FileSource } from './file-source.js';

/** Largest header the reader accepts, in bytes (the Rust crate's `MAX_HEADER_SIZE`). */
export const MAX_HEADER_SIZE = 100_000_000;

/** One tensor's entry in a safetensors header. Offsets are relative to the start of the data. */
export interface TensorEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Byte offset of the first element, from the end of the header. */
  readonly begin: number;
  /** Byte offset one past the last element. */
  readonly end: number;
}

/** A parsed and validated safetensors header. */
export interface SafetensorsHeader {
  /** Tensors in file (offset) order. */
  readonly tensors: readonly TensorEntry[];
  /** The optional `__metadata__` string map. */
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** Absolute file offset where tensor data begins (8 + header length). */
  readonly dataStart: number;
}

const size = z.number().int().nonnegative();
const TensorInfoSchema = z.object({
  dtype: z.enum(SAFETENSORS_DTYPES),
  shape: z.array(size),
  data_offsets: z.tuple([size, size]),
});
const MetadataSchema = z.record(z.string(), z.string());
const HeaderSchema = z.record(z.string(), z.unknown());

function fail(file: string, message: string, tensor?: string, cause?: unknown): FileFormatError {
  return new FileFormatError({
    file,
    message,
    ...(tensor === undefined ? {} : { field: tensor }),
    ...(cause === undefined ? {} : { cause }),
  });
}

function check<S extends z.ZodType>(schema: S, value: unknown, file: string, field: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `\`${formatIssuePath(i.path)}\`: ${i.message}`).join('; ');
  throw fail(file, `invalid header entry: ${issues}`, field, result.error);
}

/**
 * Validates decoded header JSON the way the Rust crate does: known dtypes, non-negative integer
 * shapes, offsets that (sorted) start at 0 and are contiguous, each spanning exactly
 * elements × dtype size, and data that ends exactly at the end of the file.
 */
export function validateHeader(json: unknown, headerLength: number, fileSize: number, file: string): SafetensorsHeader {
  const record = check(HeaderSchema, json, file, '<header>');
  let metadata: Record<string, string> | undefined;
  const tensors: TensorEntry[] = [];
  for (const [name, value] of Object.entries(record)) {
    if (name === '__metadata__') {
      metadata = check(MetadataSchema, value, file, name);
      continue;
    }
    const info = check(TensorInfoSchema, value, file, name);
    tensors.push({ name, dtype: info.dtype, shape: info.shape, begin: info.data_offsets[0], end: info.data_offsets[1] });
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);

  let position = 0;
  for (const t of tensors) {
    if (t.begin !== position || t.end < t.begin) {
      throw fail(
        file,
        `invalid data_offsets [${t.begin}, ${t.end}]: expected the tensor to start at offset ${position} ` +
          '(tensors must be contiguous and non-overlapping)',
        t.name,
      );
    }
    position = t.end;
    const count = t.shape.reduce((a, b) => a * b, 1);
    const bits = count * dtypeBits(t.dtype);
    if (!Number.isSafeInteger(bits)) throw fail(file, `shape [${t.shape.join(', ')}] overflows`, t.name);
    if (bits % 8 !== 0) {
      throw fail(file, `${count} elements of ${t.dtype} do not fill whole bytes`, t.name);
    }
    if (t.end - t.begin !== bits / 8) {
      throw fail(
        file,
        `data_offsets [${t.begin}, ${t.end}] span ${t.end - t.begin} bytes but ${t.dtype} × ` +
          `shape [${t.shape.join(', ')}] needs ${bits / 8} bytes`,
        t.name,
      );
    }
  }
  const expected = 8 + headerLength + position;
  if (expected !== fileSize) {
    throw fail(
      file,
      `tensor data ends at byte ${expected} but the file has ${fileSize} bytes ` +
        `(${fileSize < expected ? 'truncated' : 'trailing bytes'}); re-download or re-save the file`,
      tensors.at(-1)?.name,
    );
  }
  return { tensors, metadata, dataStart: 8 + headerLength };
}

/**
 * Reads and validates the header of a safetensors file: the u64 little-endian header length
 * (at most {@link MAX_HEADER_SIZE}), then that many bytes of UTF-8 JSON. Reads nothing else.
 * Every problem is a `FileFormatError` naming the file and, where there is one, the tensor.
 */
export async function readHeader(source: FileSource): Promise<SafetensorsHeader> {
  const file = source.name;
  const fileSize = source.size();
  if (fileSize < 8) throw fail(file, `file has ${fileSize} bytes, too small for the 8-byte header length`);
  const lengthBytes = await source.read(0, 8);
  const length = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_SIZE)) {
    throw fail(file, `header length ${length} is too large (limit ${MAX_HEADER_SIZE}); this is not a safetensors file`);
  }
  const headerLength = Number(length);
  if (8 + headerLength > fileSize) {
    throw fail(file, `header length ${headerLength} runs past the end of the file (${fileSize} bytes)`);
  }
  const bytes = await source.read(8, headerLength);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (error) {
    throw fail(file, 'header is not valid UTF-8', undefined, error);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw fail(file, `header is not valid JSON: ${(error as Error).message}`, undefined, error);
  }
  return validateHeader(json, headerLength, fileSize, file);
}
