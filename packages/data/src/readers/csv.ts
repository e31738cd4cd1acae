import { createReadStream } from 'node:fs';
import { FileFormatError, InvalidArgumentError } from '@lora/core';
import { parse, CsvError } from 'csv-parse';
import type { z } from 'zod';
import { InvalidUtf8Lines, countNewlines } from './utf8-lines.js';
import { RecordReader, type RawRecord, type ReaderOptions } from './record-reader.js';

/** Options of {@link readCsv}. */
export interface CsvReaderOptions<S extends z.ZodType> extends ReaderOptions<S> {
  /** Field delimiter; default `,` (use `\t` for TSV). */
  delimiter?: string;
  /**
   * Column names when the file has no header row. By default the first row is the header.
   */
  columns?: readonly string[];
}

/**
 * Streams a CSV file (RFC 4180: quoted fields may hold delimiters, doubled quotes and newlines)
 * with csv-parse. Each row becomes an object keyed by the header row and is validated with
 * `options.schema`; values are strings (`''` for empty), so use `z.coerce.number()` for numbers.
 * Line numbers are those where each record starts, counting newlines inside quoted fields. A
 * row with the wrong number of fields is a bad record (`field` = `<columns>`); an unterminated
 * quote cannot be resynchronised and always throws.
 *
 * @example
 * ```ts
 * const prompts = readCsv('xstest_prompts.csv', { schema: z.object({ prompt: z.string(), label: z.enum(['safe', 'unsafe']) }) });
 * ```
 */
export function readCsv<S extends z.ZodType>(file: string, options: CsvReaderOptions<S>): RecordReader<z.output<S>> {
  const delimiter = options.delimiter ?? ',';
  if (delimiter.length === 0) throw new InvalidArgumentError({ argument: 'delimiter', message: 'must not be empty' });
  return new RecordReader<z.output<S>>(file, options.schema, options.mode ?? 'strict', () => csvRecords(file, delimiter, options.columns));
}

async function* csvRecords(file: string, delimiter: string, fixedColumns: readonly string[] | undefined): AsyncGenerator<RawRecord> {
  const source = createReadStream(file);
  const invalid = new InvalidUtf8Lines();
  // A second listener sees each chunk before the parser emits the records it completes.
  source.on('data', (chunk) => invalid.push(chunk as Buffer));
  source.on('end', () => invalid.end());
  const parser = source.pipe(parse({ delimiter, bom: true, raw: true, info: true, skip_empty_lines: true, relax_column_count: true }));
  source.on('error', (error) => parser.destroy(error)); // pipe() does not forward source errors
  let header: readonly string[] | undefined = fixedColumns;
  // Line bookkeeping: csv-parse's `info.lines` and `raw` are unreliable with CRLF files (the raw
  // text drops the "\n" of "\r\n"), so each record is counted as 1 line plus the newlines
  // inside its quoted fields, plus the empty lines skipped before it.
  let linesBefore = 0;
  let emptyBefore = 0;
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; raw: string; info: { empty_lines: number } }>) {
      const emptyLines = item.info.empty_lines - emptyBefore;
      emptyBefore = item.info.empty_lines;
      const line = 1 + linesBefore + emptyLines;
      const inner = countNewlines(item.raw.replace(/^[\r\n]+/, '').replace(/(?:\r\n|\n|\r)$/, ''));
      linesBefore += emptyLines + 1 + inner;
      const utf8 = invalid.has(line, line + inner) ? { invalidUtf8: true as const } : {};
      if (header === undefined) {
        header = item.record;
        const duplicate = header.find((name, i) => header?.indexOf(name) !== i);
        if (duplicate !== undefined) {
          throw new FileFormatError({
            file,
            line,
            field: duplicate,
            message: `duplicate column "${duplicate}" in the header row; rename one of them`,
          });
        }
        continue;
      }
      if (item.record.length !== header.length) {
        yield {
          line,
          syntaxError: `expected ${header.length} fields (${header.join(', ')}), found ${item.record.length}; quote fields that contain "${delimiter}"`,
          ...utf8,
        };
        continue;
      }
      const value: Record<string, string> = {};
      header.forEach((name, i) => {
        value[name] = item.record[i] ?? '';
      });
      yield { line, value, ...utf8 };
    }
  } catch (error) {
    if (error instanceof CsvError) {
      const lines = (error as CsvError & { lines?: number }).lines;
      throw new FileFormatError({
        file,
        ...(lines === undefined ? {} : { line: lines }),
        message: `CSV syntax error (${error.code}): ${error.message}`,
        cause: error,
      });
    }
    throw error;
  } finally {
    source.destroy(); // the consumer may stop early
  }
}
