import { isUtf8 } from 'node:buffer';
import { FileFormatError } from '@lora/core';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import type { z } from 'zod';
import { RecordReader, type RawRecord, type ReaderOptions } from './record-reader.js';

/** Options of {@link readParquet}. */
export interface ParquetReaderOptions<S extends z.ZodType> extends ReaderOptions<S> {
  /** Read only these columns (all by default). */
  columns?: readonly string[];
}

/**
 * Streams a Parquet file with hyparquet, one row group at a time (memory bounded by the largest
 * row group). Rows become plain objects and are validated with `options.schema`; the "line" of
 * a record is its 1-based row number. INT64 values that fit in a double become numbers (larger
 * ones stay `bigint`). Snappy and uncompressed pages are supported. A string whose bytes are not
 * valid UTF-8 is read with U+FFFD in place of the bad bytes and its row counted in
 * `reader.report.invalidUtf8`, as the text readers do.
 *
 * @example
 * ```ts
 * for await (const row of readParquet('train.parquet', { schema: z.object({ text: z.string() }) })) use(row.text);
 * ```
 */
export function readParquet<S extends z.ZodType>(file: string, options: ParquetReaderOptions<S>): RecordReader<z.output<S>> {
  return new RecordReader<z.output<S>>(file, options.schema, options.mode ?? 'strict', () => parquetRecords(file, options.columns));
}

async function* parquetRecords(file: string, columns: readonly string[] | undefined): AsyncGenerator<RawRecord> {
  let buffer;
  let metadata;
  try {
    buffer = await asyncBufferFromFile(file);
    metadata = await parquetMetadataAsync(buffer);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== undefined) throw error;
    throw new FileFormatError({ file, message: `not a readable Parquet file: ${(error as Error).message}`, cause: error });
  }
  // Strings decoded from invalid UTF-8, per row group: a row holding one is counted in the report.
  const invalid = new Set<string>();
  const decoder = new TextDecoder();
  const parsers = {
    stringFromBytes(bytes: Uint8Array | undefined): string | undefined {
      if (bytes === undefined) return undefined;
      const text = decoder.decode(bytes);
      if (!isUtf8(bytes)) invalid.add(text);
      return text;
    },
  };
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    invalid.clear();
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({
        file: buffer,
        metadata,
        rowStart,
        rowEnd,
        parsers,
        ...(columns === undefined ? {} : { columns: [...columns] }),
      });
    } catch (error) {
      throw new FileFormatError({
        file,
        line: rowStart + 1,
        message: `cannot decode row group at rows ${rowStart + 1}–${rowEnd}: ${(error as Error).message}`,
        cause: error,
      });
    }
    for (let i = 0; i < rows.length; i++) {
      const value = normalizeBigInts(rows[i]);
      yield { line: rowStart + i + 1, value, ...(invalid.size > 0 && holdsAny(value, invalid) ? { invalidUtf8: true as const } : {}) };
    }
    rowStart = rowEnd;
  }
}

/** Whether `value` (a row, through arrays and plain objects) holds one of `strings`. */
function holdsAny(value: unknown, strings: ReadonlySet<string>): boolean {
  if (typeof value === 'string') return strings.has(value);
  if (Array.isArray(value)) return value.some((v) => holdsAny(v, strings));
  if (value !== null && typeof value === 'object') return Object.values(value).some((v) => holdsAny(v, strings));
  return false;
}

/** Converts safe-integer bigints to numbers, recursively through arrays and plain objects. */
function normalizeBigInts(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value;
  }
  if (Array.isArray(value)) return value.map(normalizeBigInts);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = normalizeBigInts(v);
    return out;
  }
  return value;
}
