import { readFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FileFormatError, parseJson } from '@lora/core';
import { z } from 'zod';

/**
 * One line of a predictions JSONL file (the format `@lora/eval` writes): `id`, `prompt`,
 * `prediction`, and `reference` when known. Other keys are kept. A non-string `reference`
 * (e.g. a tool-call object) is rendered as JSON for the judge.
 */
export const PredictionRecordSchema = z.looseObject({
  id: z.union([z.string(), z.number()]).transform(String),
  prompt: z.string(),
  prediction: z.string(),
  reference: z.unknown().optional(),
});

/** A parsed prediction line plus where it came from. */
export interface PredictionRecord {
  /** Item id (numbers become strings). */
  id: string;
  /** The prompt. */
  prompt: string;
  /** The model's answer. */
  prediction: string;
  /** Reference as text, when present and not null. */
  reference: string | undefined;
  /** 1-based line in the file. */
  line: number;
}

/**
 * Reads a predictions JSONL file, validating every line with {@link PredictionRecordSchema}.
 * Blank lines are skipped. A bad line or a duplicate id throws a {@link FileFormatError}
 * naming `file:line`.
 */
export async function readPredictions(file: string): Promise<PredictionRecord[]> {
  const text = await readFile(file, 'utf8');
  const records: PredictionRecord[] = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const row = parseJson(raw, PredictionRecordSchema, { file, line });
    const first = seen.get(row.id);
    if (first !== undefined)
      throw new FileFormatError({
        file,
        line,
        field: 'id',
        message: `duplicate id \`${row.id}\` (first on line ${first}); ids must be unique`,
      });
    seen.set(row.id, line);
    const reference =
      row.reference === undefined || row.reference === null
        ? undefined
        : typeof row.reference === 'string'
          ? row.reference
          : JSON.stringify(row.reference);
    records.push({ id: row.id, prompt: row.prompt, prediction: row.prediction, reference, line });
  });
  return records;
}

/** Writes `text` to `file` atomically (temporary file, then rename), creating the directory. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, text, 'utf8');
  await rename(tmp, file);
}

/** Writes `rows` as JSONL atomically. */
export async function writeJsonl(file: string, rows: readonly unknown[]): Promise<void> {
  await writeFileAtomic(file, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
}
