import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { z } from 'zod';
import { RecordReader, type RawRecord, type ReaderOptions } from './record-reader.js';

/**
 * Streams a JSON Lines file: one JSON value per line, validated with `options.schema`. Memory
 * stays constant whatever the file size. Blank lines are not records and are passed over; a
 * line that is not valid JSON, or fails the schema, throws a `FileFormatError` naming
 * `file:line` and the field (`strict`), or is listed in `reader.report.skipped` (`skip`).
 *
 * @example
 * ```ts
 * const rows = readJsonl('gsm8k/test.jsonl', { schema: z.object({ question: z.string(), answer: z.string() }) });
 * for await (const row of rows) console.log(row.question);
 * ```
 */
export function readJsonl<S extends z.ZodType>(file: string, options: ReaderOptions<S>): RecordReader<z.output<S>> {
  return new RecordReader<z.output<S>>(file, options.schema, options.mode ?? 'strict', () => jsonlRecords(file));
}

async function* jsonlRecords(file: string): AsyncGenerator<RawRecord> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const raw of lines) {
    line += 1;
    const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      yield { line, syntaxError: `invalid JSON: ${(error as Error).message}` };
      continue;
    }
    yield { line, value };
  }
}
