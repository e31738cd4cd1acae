import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { FileFormatError, parseJson } from '@lora/core';
import { z } from 'zod';

/**
 * One line of a predictions JSONL file (the format `@lora/judge` reads too): `id`, `prompt`,
 * `prediction` and `reference` when known, plus run facts.
 */
export const PredictionRecordSchema = z
  .object({
    id: z.string(),
    prompt: z.string(),
    prediction: z.string(),
    reference: z.unknown().optional(),
    /** Name of the variant (base, adapter, …) that produced it. */
    variant: z.string().optional(),
    /** Milliseconds from the start of its batch to its last token. */
    latencyMs: z.number().optional(),
    promptTokens: z.number().int().optional(),
    newTokens: z.number().int().optional(),
    finishReason: z.enum(['stop', 'length']).optional(),
    /** Probability the model gave its own output (exp of the summed token log-probs). */
    confidence: z.number().optional(),
  })
  .loose();

/** A parsed prediction line. */
export type PredictionRecord = z.output<typeof PredictionRecordSchema>;

/**
 * Reads a predictions JSONL file; a missing file reads as empty. A final line cut short by a
 * crash (no newline, not JSON) is dropped and truncated from the file, so appending can resume;
 * a bad line elsewhere is a {@link FileFormatError}.
 */
export function readPredictions(file: string): PredictionRecord[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const records: PredictionRecord[] = [];
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const isLast = i === lines.length - 1;
    if (line.trim() !== '') {
      try {
        records.push(parseJson(line, PredictionRecordSchema, { file, line: i + 1 }));
      } catch (error) {
        if (!isLast) throw error;
        truncateSync(file, Buffer.byteLength(text.slice(0, offset), 'utf8'));
        break;
      }
    }
    offset += line.length + 1;
  }
  return records;
}

/**
 * Appends prediction lines to a JSONL file, flushing each batch to disk (`fsync`) so a crash
 * loses nothing already written.
 */
export class PredictionWriter {
  private fd: number | undefined;

  /** Opens `file` for appending (created if absent). */
  constructor(readonly file: string) {
    this.fd = openSync(file, 'a');
  }

  /** Writes the records as JSON lines and syncs them to disk. */
  append(records: readonly PredictionRecord[]): void {
    if (this.fd === undefined) throw new FileFormatError({ file: this.file, message: 'the prediction writer is closed.' });
    if (records.length === 0) return;
    writeSync(this.fd, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    fsyncSync(this.fd);
  }

  /** Closes the file. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
