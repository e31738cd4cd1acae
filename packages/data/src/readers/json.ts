import { createReadStream } from 'node:fs';
import { FileFormatError } from '@lora/core';
import type { z } from 'zod';
import { JsonArrayScanner, ScanError } from './json-array-scanner.js';
import { RecordReader, type RawRecord, type ReaderOptions } from './record-reader.js';

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
  try {
    for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 16 })) {
      for (const element of scanner.push(chunk as string)) yield parseElement(element.line, element.text);
    }
    for (const element of scanner.end()) yield parseElement(element.line, element.text);
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
