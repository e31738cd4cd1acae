import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { InvalidArgumentError } from '@lora/core';
import type { z } from 'zod';
import { RecordReader, type RawRecord, type ReaderOptions } from './record-reader.js';

/** Default {@link JsonlReaderOptions.maxLineBytes}: 16 MiB. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

/** Options of {@link readJsonl}. */
export interface JsonlReaderOptions<S extends z.ZodType> extends ReaderOptions<S> {
  /**
   * Longest line accepted, in bytes (default 16 MiB). A longer line is a bad record at its
   * `file:line` (an error in `strict` mode, skipped in `skip` mode) and is never held in memory
   * whole, so a runaway line cannot exhaust the heap.
   */
  maxLineBytes?: number;
}

/**
 * Streams a JSON Lines file: one JSON value per line, validated with `options.schema`. Memory
 * stays constant whatever the file size, and a line over `maxLineBytes` is refused at its
 * `file:line`. Blank lines are not records and are passed over; a line that is not valid JSON,
 * or fails the schema, throws a `FileFormatError` naming `file:line` and the field (`strict`), or
 * is listed in `reader.report.skipped` (`skip`). Lines that are not valid UTF-8 are decoded with
 * U+FFFD replacements and counted in `reader.report.invalidUtf8`.
 *
 * @example
 * ```ts
 * const rows = readJsonl('gsm8k/test.jsonl', { schema: z.object({ question: z.string(), answer: z.string() }) });
 * for await (const row of rows) console.log(row.question);
 * ```
 */
export function readJsonl<S extends z.ZodType>(file: string, options: JsonlReaderOptions<S>): RecordReader<z.output<S>> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
    throw new InvalidArgumentError({ argument: 'maxLineBytes', message: `must be a positive integer, got ${maxLineBytes}.` });
  }
  return new RecordReader<z.output<S>>(file, options.schema, options.mode ?? 'strict', () => jsonlRecords(file, maxLineBytes));
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${bytes} bytes`;
}

/** Splits the byte stream at `\n` itself, so that a line's length is known before it is decoded or kept. */
async function* jsonlRecords(file: string, maxLineBytes: number): AsyncGenerator<RawRecord> {
  let parts: Buffer[] = [];
  let lineBytes = 0;
  let line = 1;
  let atStart = true;

  const finish = (): RawRecord | undefined => {
    const bytes = lineBytes;
    const kept = parts;
    parts = [];
    lineBytes = 0;
    // The limit is on the record's bytes: a CRLF line's `\r` does not count (one spare byte is kept for it).
    const last = kept.length === 0 ? undefined : kept[kept.length - 1];
    const crlf = last !== undefined && last.length > 0 && last[last.length - 1] === 0x0d && bytes <= maxLineBytes + 1;
    if (bytes - (crlf ? 1 : 0) > maxLineBytes) {
      return {
        line,
        syntaxError: `the line is ${formatBytes(bytes)}, over the maxLineBytes limit of ${formatBytes(maxLineBytes)}; split the record or raise the limit.`,
      };
    }
    let buffer = kept.length === 1 ? (kept[0] as Buffer) : Buffer.concat(kept, bytes);
    if (buffer.length > 0 && buffer[buffer.length - 1] === 0x0d) buffer = buffer.subarray(0, -1);
    const validUtf8 = isUtf8(buffer);
    const text = buffer.toString('utf8');
    if (text.trim() === '') return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return { line, syntaxError: `invalid JSON: ${(error as Error).message}`, ...(validUtf8 ? {} : { invalidUtf8: true }) };
    }
    return { line, value, ...(validUtf8 ? {} : { invalidUtf8: true }) };
  };

  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 16 })) {
    const buffer = chunk as Buffer;
    // A UTF-8 byte order mark opens the file, not the first record.
    let start = atStart && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf ? 3 : 0;
    atStart = false;
    for (;;) {
      const newline = buffer.indexOf(0x0a, start);
      const end = newline === -1 ? buffer.length : newline;
      // Past the limit only the count goes on: the bytes are dropped, never accumulated.
      if (lineBytes + (end - start) <= maxLineBytes + 1) parts.push(buffer.subarray(start, end));
      else parts = [];
      lineBytes += end - start;
      if (newline === -1) break;
      const record = finish();
      if (record !== undefined) yield record;
      line += 1;
      start = newline + 1;
    }
  }
  if (lineBytes > 0) {
    const record = finish();
    if (record !== undefined) yield record;
  }
}
