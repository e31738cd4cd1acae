import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FileFormatError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readParquet } from './parquet.js';
import { readDataset } from './read-dataset.js';

// Fixtures written by pyarrow: tools/parity/data/make_reader_fixtures.py
const fixture = (name: string): string => fileURLToPath(new URL(`../../fixtures/readers/${name}`, import.meta.url));
const expected = JSON.parse(readFileSync(fixture('mixed.expected.json'), 'utf8')) as Record<string, unknown>[];

const Row = z.object({
  id: z.number().int(),
  prompt: z.string(),
  completion: z.string(),
  options: z.array(z.string()),
  answer: z.number().int(),
  score: z.number(),
  note: z.string().nullable(),
  big: z.union([z.number(), z.bigint().transform((b) => b.toString())]),
});

describe('readParquet', () => {
  it.each(['mixed.parquet', 'mixed-plain.parquet'])('%s: every value equals what pyarrow reads back', async (name) => {
    const entries = [];
    for await (const e of readParquet(fixture(name), { schema: Row }).entries()) entries.push(e);
    expect(entries.map((e) => e.line)).toEqual(expected.map((_, i) => i + 1));
    expect(entries.map((e) => e.value)).toEqual(expected);
  });

  it('selects columns', async () => {
    const rows = await readParquet(fixture('mixed.parquet'), {
      schema: z.object({ prompt: z.string() }).strict(),
      columns: ['prompt'],
    }).toArray();
    expect(rows.map((r) => r.prompt)).toEqual(expected.map((r) => r.prompt));
    // readDataset picks the Parquet reader from the extension
    expect((await readDataset(fixture('mixed-plain.parquet'), { schema: Row }).toArray()).length).toBe(expected.length);
  });

  it('skip mode reports row numbers across row groups', async () => {
    const reader = readParquet(fixture('mixed.parquet'), { schema: Row.extend({ note: z.string() }), mode: 'skip' });
    const kept = await reader.toArray();
    const nullRows = expected.flatMap((r, i) => (r.note === null ? [i + 1] : []));
    expect(reader.report.skipped.map((s) => [s.line, s.field])).toEqual(nullRows.map((line) => [line, 'note']));
    expect(kept.length + nullRows.length).toBe(expected.length);
  });

  it('a file that is not Parquet is a FileFormatError', async () => {
    const error = await readParquet(fixture('mixed.expected.json'), { schema: Row })
      .toArray()
      .catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('mixed.expected.json');
  });

  it('counts rows whose strings are not valid UTF-8, in columns and inside lists', async () => {
    const reader = readParquet(fixture('invalid-utf8.parquet'), { schema: z.object({ text: z.string(), tags: z.array(z.string()) }) });
    const rows = await reader.toArray();
    expect(rows.map((r) => r.text)).toEqual(['fine', 'caf\uFFFD au lait', 'also fine', 'ok']);
    expect(reader.report.invalidUtf8).toBe(2);
    expect(reader.report.invalidUtf8Lines).toEqual([2, 4]);
  });
});
