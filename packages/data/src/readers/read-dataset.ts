import { InvalidArgumentError } from '@lora/core';
import type { z } from 'zod';
import { readCsv } from './csv.js';
import { readJson } from './json.js';
import { readJsonl } from './jsonl.js';
import { readParquet } from './parquet.js';
import type { RecordReader, ReaderOptions } from './record-reader.js';

/** File formats the readers understand. */
export type DatasetFileType = 'jsonl' | 'json' | 'csv' | 'tsv' | 'parquet';

const byExtension: Record<string, DatasetFileType> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'json',
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.parquet': 'parquet',
};

/** The file type implied by `file`'s extension, or `undefined` when it is not one of ours. */
export function fileTypeOf(file: string): DatasetFileType | undefined {
  const match = /\.[^./\\]+$/.exec(file.toLowerCase());
  return match === null ? undefined : byExtension[match[0]];
}

/** Options of {@link readDataset}. */
export interface DatasetReaderOptions<S extends z.ZodType> extends ReaderOptions<S> {
  /** Overrides the type implied by the extension. */
  type?: 'jsonl' | 'json' | 'csv' | 'tsv' | 'parquet';
  /** JSONL only: longest line accepted, in bytes (default 16 MiB; see `readJsonl`). */
  maxLineBytes?: number;
}

/**
 * Opens a streaming, validating reader chosen by the file's extension (`.jsonl`/`.ndjson`,
 * `.json`, `.csv`, `.tsv`, `.parquet`) or by `options.type`.
 *
 * @example
 * ```ts
 * const reader = readDataset('train.parquet', { schema: anyExampleSchema(), mode: 'skip' });
 * ```
 */
export function readDataset<S extends z.ZodType>(file: string, options: DatasetReaderOptions<S>): RecordReader<z.output<S>> {
  const type = options.type ?? fileTypeOf(file);
  switch (type) {
    case 'jsonl':
      return readJsonl(file, options);
    case 'json':
      return readJson(file, options);
    case 'csv':
      return readCsv(file, options);
    case 'tsv':
      return readCsv(file, { ...options, delimiter: '\t' });
    case 'parquet':
      return readParquet(file, options);
    default:
      throw new InvalidArgumentError({
        argument: 'file',
        message: `cannot tell the format of "${file}" from its extension; use .jsonl, .json, .csv, .tsv or .parquet, or pass \`type\``,
      });
  }
}
