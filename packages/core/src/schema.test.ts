import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FileFormatError } from './errors/file-format-error.js';
import { LoraError } from './errors/lora-error.js';
import { parseJson } from './schema.js';

const Schema = z.object({ a: z.number(), b: z.array(z.object({ c: z.string() })) });

describe('parseJson', () => {
  it('returns the parsed value', () => {
    expect(parseJson('{"a":1,"b":[{"c":"x"}]}', Schema, { file: 'x.json' })).toEqual({ a: 1, b: [{ c: 'x' }] });
  });

  it('names the file, line and field of a schema error', () => {
    let err: unknown;
    try {
      parseJson('{"a":1,"b":[{"c":3}]}', Schema, { file: 'data.jsonl', line: 12 });
    } catch (e) {
      err = e;
    }
    expect(FileFormatError.isInstance(err)).toBe(true);
    expect(LoraError.isInstance(err)).toBe(true);
    const e = err as FileFormatError;
    expect(e.file).toBe('data.jsonl');
    expect(e.line).toBe(12);
    expect(e.field).toBe('b[0].c');
    expect(e.message).toMatch(/^data\.jsonl:12 \(b\[0\]\.c\): `b\[0\]\.c`/);
  });

  it('reports invalid JSON with the file name', () => {
    expect(() => parseJson('{oops', Schema, { file: 'config.json' })).toThrow(/config\.json: invalid JSON/);
  });
});
