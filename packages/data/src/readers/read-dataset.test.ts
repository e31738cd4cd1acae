import { AssetNotFoundError, InvalidArgumentError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fileTypeOf, readDataset } from './read-dataset.js';

describe('readDataset', () => {
  it('picks the reader from the extension', () => {
    expect(['a.jsonl', 'b.NDJSON', 'c.json', 'd.csv', 'e.tsv', 'f.parquet', 'g.txt', 'noext'].map(fileTypeOf)).toEqual([
      'jsonl',
      'jsonl',
      'json',
      'csv',
      'tsv',
      'parquet',
      undefined,
      undefined,
    ]);
    let error: unknown;
    try {
      readDataset('notes.txt', { schema: z.unknown() });
    } catch (e) {
      error = e;
    }
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('notes.txt');
  });

  it.each(['jsonl', 'json', 'csv', 'parquet'])(
    'a missing .%s file is an AssetNotFoundError (no hang)',
    async (ext) => {
      const file = `/nonexistent-lora-dir/missing.${ext}`;
      const error = await readDataset(file, { schema: z.unknown() })
        .toArray()
        .catch((e: unknown) => e);
      expect(AssetNotFoundError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(file);
    },
    5000,
  );
});
