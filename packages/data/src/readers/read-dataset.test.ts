import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssetNotFoundError, FileFormatError, InvalidArgumentError } from '@lora/core';
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

  it.each([
    ['a FIFO', 'fifo.jsonl', 'a FIFO'],
    ['a folder', 'folder.csv', 'a folder'],
    ['a device', '/dev/zero', 'a device'],
  ])('refuses %s before reading a byte (no hang)', async (_, name, kind) => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-reader-'));
    try {
      const file = name.startsWith('/') ? name : join(dir, name);
      if (name === 'fifo.jsonl') execFileSync('mkfifo', [file]);
      if (name === 'folder.csv') execFileSync('mkdir', [file]);
      const error = await readDataset(file, { schema: z.unknown(), type: 'jsonl' })
        .toArray()
        .catch((e: unknown) => e);
      expect(FileFormatError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(file);
      expect((error as Error).message).toContain(`the dataset file must be a regular file, but this is ${kind}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
