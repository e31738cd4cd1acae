import { FileFormatError, InvalidArgumentError } from '@lora/core';
import type { z } from 'zod';
import { exampleSchema, type DatasetFormat, type Example } from '../formats/example.js';
import { readDataset, type DatasetFileType } from '../readers/read-dataset.js';
import type { ReadMode, ReadReport } from '../readers/read-report.js';
import type { RecordReader } from '../readers/record-reader.js';
import type { TokenizedExample } from '../transforms/tokenized-example.js';
import { truncateExample } from '../transforms/truncate.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { exampleEncoder, type ExampleEncoder, type ExampleEncoderOptions } from './encode-example.js';

/** Options of {@link inspectDataset}. */
export interface InspectOptions {
  /** Dataset file (`.jsonl`, `.json`, `.csv`, `.tsv`, `.parquet`). */
  file: string;
  /** Tokenizer; records are encoded with {@link exampleEncoder}(tokenizer, `encoding`) unless `encode` is given. */
  tokenizer?: Tokenizer;
  /** Options of the standard encoder (mask mode, chat template, EOS). */
  encoding?: ExampleEncoderOptions;
  /** A custom encoder of one example; overrides `tokenizer`. */
  encode?: ExampleEncoder;
  /** Record format; `auto` (default) detects it per record. */
  format?: DatasetFormat | 'auto';
  /** A schema from raw records to {@link Example}s, for files whose keys differ (overrides `format`). */
  schema?: z.ZodType<Example>;
  /** `strict` (default): the first bad record throws with file:line; `skip`: listed in `report`. */
  mode?: ReadMode;
  /** When set, records are measured as truncated to this many tokens. */
  maxLength?: number;
  /** Side truncation cuts (default `right`). */
  truncationSide?: 'left' | 'right';
  /** File type, when the extension does not tell. */
  type?: DatasetFileType;
}

/** Token counts of one record, as `lora data inspect --json` prints them. */
export interface RecordStats {
  /** 1-based line (row for Parquet) where the record starts. */
  readonly line: number;
  /** Tokens of the encoded record, before truncation. */
  readonly tokens: number;
  /** Trained tokens (labels mask 1) that survive truncation. */
  readonly trainedTokens: number;
  /** Tokens cut by truncation; present only when `maxLength` is set. */
  readonly truncated?: number;
}

/** One inspected record: its stats plus the example and its encoding (for rendering). */
export interface InspectedRecord extends RecordStats {
  /** 0-based record index in the file (bad records included). */
  readonly index: number;
  /** The parsed example. */
  readonly example: Example;
  /** The encoding, after truncation when `maxLength` is set. */
  readonly encoded: TokenizedExample;
}

/** Running totals of an inspection. */
export interface InspectSummary {
  /** Records inspected. */
  records: number;
  /** Tokens before truncation. */
  tokens: number;
  /** Trained tokens after truncation. */
  trainedTokens: number;
  /** Longest record, in tokens. */
  maxTokens: number;
  /** Records longer than `maxLength`. */
  truncatedRecords: number;
  /** Records with no trained token left (they teach nothing). */
  withoutTrainedTokens: number;
}

/**
 * Per-record token statistics of a dataset file, streamed. Iterate it for
 * {@link InspectedRecord}s; `report` has the reader's read/kept/skipped counts and `summary` the
 * totals so far.
 */
export class DatasetInspection implements AsyncIterable<InspectedRecord> {
  /** Totals of the current (or last) pass. */
  summary: InspectSummary = emptySummary();
  private readonly reader: RecordReader<Example>;
  private readonly encode: ExampleEncoder;

  /** @internal Use {@link inspectDataset}. */
  constructor(private readonly options: InspectOptions) {
    if (options.encode !== undefined) this.encode = options.encode;
    else if (options.tokenizer !== undefined) this.encode = exampleEncoder(options.tokenizer, options.encoding);
    else throw new InvalidArgumentError({ argument: 'tokenizer', message: 'pass a `tokenizer` (or a custom `encode` function)' });
    const format = options.format ?? 'auto';
    const schema: z.ZodType<Example> = options.schema ?? (format === 'auto' ? exampleSchema('auto') : exampleSchema(format));
    this.reader = readDataset<typeof schema>(options.file, {
      schema,
      mode: options.mode ?? 'strict',
      ...(options.type === undefined ? {} : { type: options.type }),
    }) as RecordReader<Example>;
  }

  /** What the reader read, kept and skipped. */
  get report(): ReadReport {
    return this.reader.report;
  }

  /** Reads, encodes and measures each record; every iteration starts over and resets `summary`. */
  async *[Symbol.asyncIterator](): AsyncGenerator<InspectedRecord> {
    const summary = emptySummary();
    this.summary = summary;
    const { maxLength, truncationSide } = this.options;
    for await (const { line, index, value } of this.reader.entries()) {
      let encoded: TokenizedExample;
      try {
        encoded = this.encode(value);
      } catch (error) {
        throw new FileFormatError({
          file: this.options.file,
          line,
          message: `cannot encode this ${value.format} record: ${(error as Error).message}`,
          cause: error,
        });
      }
      const tokens = encoded.inputIds.length;
      let truncated: number | undefined;
      if (maxLength !== undefined) {
        const cut = truncateExample(encoded, { maxLength, side: truncationSide ?? 'right' });
        encoded = cut.example;
        truncated = cut.removed;
      }
      let trainedTokens = 0;
      for (const m of encoded.labelsMask) trainedTokens += m === 0 ? 0 : 1;
      summary.records += 1;
      summary.tokens += tokens;
      summary.trainedTokens += trainedTokens;
      summary.maxTokens = Math.max(summary.maxTokens, tokens);
      if (truncated !== undefined && truncated > 0) summary.truncatedRecords += 1;
      if (trainedTokens === 0) summary.withoutTrainedTokens += 1;
      yield { line, index, tokens, trainedTokens, ...(truncated === undefined ? {} : { truncated }), example: value, encoded };
    }
  }
}

/**
 * Streams per-record token counts and trained-token counts of a dataset file — the engine of
 * `lora data inspect`. A bad record throws a `FileFormatError` with `file:line` (or is skipped and
 * reported in `skip` mode); a record the encoder rejects always throws with its `file:line`.
 *
 * @example
 * ```ts
 * const run = inspectDataset({ file: 'chats.jsonl', tokenizer: await loadTokenizer(dir), maxLength: 2048 });
 * for await (const r of run) console.log(JSON.stringify(recordStats(r)));
 * console.log(run.summary, run.report);
 * ```
 */
export function inspectDataset(options: InspectOptions): DatasetInspection {
  return new DatasetInspection(options);
}

/** The JSON-lines view of a record: `{ line, tokens, trainedTokens, truncated? }`. */
export function recordStats(record: RecordStats): RecordStats {
  return {
    line: record.line,
    tokens: record.tokens,
    trainedTokens: record.trainedTokens,
    ...(record.truncated === undefined ? {} : { truncated: record.truncated }),
  };
}

function emptySummary(): InspectSummary {
  return { records: 0, tokens: 0, trainedTokens: 0, maxTokens: 0, truncatedRecords: 0, withoutTrainedTokens: 0 };
}
