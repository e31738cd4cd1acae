import { AssetNotFoundError, FileFormatError } from '@lora/core';
import { statRegularFile, validate } from '@lora/core/internal';
import type { z } from 'zod';
import { emptyReadReport, type ReadMode, type ReadReport } from './read-report.js';

/** How many invalid-UTF-8 line numbers a report keeps. */
const MAX_LISTED_LINES = 10;

/** Options every reader takes. */
export interface ReaderOptions<S extends z.ZodType> {
  /** zod schema each record must satisfy; its output is what the reader yields. */
  schema: S;
  /** `strict` (default) throws on the first bad record; `skip` leaves it out and lists it in the report. */
  mode?: ReadMode;
}

/** A validated record with the 1-based line where it starts (row number for Parquet). */
export interface LocatedRecord<T> {
  /** 1-based line (JSONL, JSON, CSV) or row number (Parquet) where the record starts. */
  readonly line: number;
  /** 0-based index of the record among all records read (good and bad). */
  readonly index: number;
  /** The schema's output. */
  readonly value: T;
}

/**
 * A record as a format parser produced it: a value to validate, or a syntax error confined to
 * this record (the parser could resynchronise at the next one).
 * @internal
 */
export type RawRecord = ({ readonly line: number; readonly value: unknown } | { readonly line: number; readonly syntaxError: string }) & {
  /** The record's bytes were not valid UTF-8 (decoded with U+FFFD replacements). */
  readonly invalidUtf8?: true;
};

/**
 * A streaming, validating reader over one file. Iterate it (`for await`) for the validated
 * records, or {@link RecordReader.entries} for records with their line numbers. Every iteration
 * reads the file again and resets {@link RecordReader.report}.
 *
 * @example
 * ```ts
 * const reader = readJsonl('train.jsonl', { schema: MessagesExampleSchema, mode: 'skip' });
 * for await (const example of reader) use(example);
 * console.log(formatReadReport(reader.report));
 * ```
 */
export class RecordReader<T> implements AsyncIterable<T> {
  private current: ReadReport;

  /** @internal Readers construct this; use `readJsonl`, `readCsv`, … */
  constructor(
    /** The file being read. */
    readonly file: string,
    private readonly schema: z.ZodType,
    /** `strict` or `skip`. */
    readonly mode: ReadMode,
    private readonly source: () => AsyncIterable<RawRecord>,
  ) {
    this.current = emptyReadReport(file);
  }

  /** Counts of the latest (or ongoing) pass over the file. */
  get report(): ReadReport {
    return this.current;
  }

  /** Validated records with their line numbers, in file order. */
  async *entries(): AsyncGenerator<LocatedRecord<T>> {
    const report = emptyReadReport(this.file);
    this.current = report;
    await assertDatasetFile(this.file);
    for await (const raw of withMissingFileError(this.file, this.source())) {
      const index = report.read;
      report.read += 1;
      if (raw.invalidUtf8 === true) {
        report.invalidUtf8 += 1;
        if (report.invalidUtf8Lines.length < MAX_LISTED_LINES) report.invalidUtf8Lines.push(raw.line);
      }
      if ('syntaxError' in raw) {
        const error = new FileFormatError({ file: this.file, line: raw.line, message: raw.syntaxError });
        if (this.mode === 'strict') throw error;
        report.skipped.push({ line: raw.line, field: '<record>', message: raw.syntaxError });
        continue;
      }
      let value: T;
      try {
        value = validate(raw.value, this.schema, { file: this.file, line: raw.line }) as T;
      } catch (error) {
        if (this.mode === 'strict' || !FileFormatError.isInstance(error)) throw error;
        const first = firstIssue(error);
        report.skipped.push({ line: raw.line, field: error.field ?? '<record>', message: first });
        continue;
      }
      report.kept += 1;
      yield { line: raw.line, index, value };
    }
  }

  /** Validated records, in file order. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for await (const entry of this.entries()) yield entry.value;
  }

  /** Reads the whole file into an array (for small files; prefer iterating). */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const value of this) out.push(value);
    return out;
  }
}

/** The first zod issue of a validation error, as `message` (without the path). */
function firstIssue(error: FileFormatError): string {
  const cause = error.cause as { issues?: { message: string }[] } | undefined;
  return cause?.issues?.[0]?.message ?? error.message;
}

/**
 * Refuses a dataset path that is not a regular file before any byte is read: a FIFO would block
 * the read forever and a device such as `/dev/zero` would never end. A missing file is an
 * {@link AssetNotFoundError}, as when the stream itself finds no file.
 */
async function assertDatasetFile(file: string): Promise<void> {
  try {
    await statRegularFile(file, 'dataset file');
  } catch (error) {
    if (FileFormatError.isInstance(error) && (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new AssetNotFoundError({ asset: file, searched: [file], hint: 'check the path of the dataset file', cause: error.cause });
    }
    throw error;
  }
}

/** Re-throws "no such file" from the underlying stream as an {@link AssetNotFoundError}. */
async function* withMissingFileError<T>(file: string, source: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AssetNotFoundError({ asset: file, searched: [file], hint: 'check the path of the dataset file', cause: error });
    }
    throw error;
  }
}
