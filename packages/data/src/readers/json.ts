import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { FileFormatError } from '@lora/core';
import type { z } from 'zod';
import { JsonArrayScanner, ScanError } from './json-array-scanner.js';
import { RecordReader, type RawRecord, type ReaderOptions } from './record-reader.js';
import { InvalidUtf8Lines, countNewlines } from './utf8-lines.js';

/** Options of {@link readJson}. */
export interface JsonReaderOptions<S extends z.ZodType> extends ReaderOptions<S> {
  /** Key of the record array when the root is an object; default `data` (`{"data": [...]}`). */
  arrayKey?: string;
}

/**
 * Streams the records of a JSON file whose root is an array of records, or an object holding
 * the array under `arrayKey` (default `data`, as in `{"data": [...]}`; other keys are ignored).
 * Elements are extracted one at a time, so memory is bounded by the largest record, not the
 * file. Each record's line is where it starts. A malformed element is a bad record; a broken
 * document structure (truncated file, no record array) always throws a `FileFormatError`.
 * Records holding bytes that are not valid UTF-8 are read with U+FFFD and counted in
 * `reader.report.invalidUtf8`.
 *
 * @example
 * ```ts
 * const items = await readJson('data.json', { schema: PromptCompletionSchema }).toArray();
 * ```
 */
export function readJson<S extends z.ZodType>(file: string, options: JsonReaderOptions<S>): RecordReader<z.output<S>> {
  const arrayKey = options.arrayKey ?? 'data';
  return new RecordReader<z.output<S>>(file, options.schema, options.mode ?? 'strict', () => jsonRecords(file, arrayKey));
}

async function* jsonRecords(file: string, arrayKey: string): AsyncGenerator<RawRecord> {
  const scanner = new JsonArrayScanner(arrayKey);
  const decoder = new StringDecoder('utf8');
  const invalid = new InvalidUtf8Lines();
  const located = (element: { line: number; text: string }): RawRecord => {
    const record = parseElement(element.line, element.text);
    return invalid.has(element.line, element.line + countNewlines(element.text)) ? { ...record, invalidUtf8: true } : record;
  };
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 16 })) {
      invalid.push(chunk as Buffer);
      for (const element of scanner.push(decoder.write(chunk as Buffer))) yield located(element);
    }
    invalid.end();
    const rest = decoder.end();
    if (rest !== '') for (const element of scanner.push(rest)) yield located(element);
    for (const element of scanner.end()) yield located(element);
  } catch (error) {
    if (error instanceof ScanError) throw new FileFormatError({ file, line: error.line, message: error.message });
    throw error;
  }
}

function parseElement(line: number, text: string): RawRecord {
  try {
    return { line, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { line, syntaxError: `invalid JSON: ${(error as Error).message}` };
  }
}
