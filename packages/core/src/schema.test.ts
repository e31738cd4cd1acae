import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FileFormatError } from './errors/file-format-error.js';
import { LoraError } from './errors/lora-error.js';
import { parseJson, validate } from './schema.js';

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

describe('validate: unknown keys', () => {
  const Strict = z.object({
    training: z.object({ learningRate: z.number().default(1), maxSteps: z.number().default(1) }).strict(),
    data: z.strictObject({ batchSize: z.number() }).default({ batchSize: 1 }),
  });
  const errorOf = (value: unknown): FileFormatError => {
    try {
      validate(value, Strict, { file: 'recipe.yaml' });
    } catch (e) {
      return e as FileFormatError;
    }
    throw new Error('no error');
  };

  it('suggests the camelCase key for a snake_case one, through defaults and nested objects', () => {
    const e = errorOf({ training: { learning_rate: 1e-4 }, data: { batch_size: 2 } });
    expect(e.field).toBe('training');
    expect(e.message).toContain('`training`: unknown key learning_rate — did you mean learningRate?');
    expect(e.message).toContain('`data`: unknown key batch_size — did you mean batchSize?');
  });

  it('suggests a key two typos away and nothing for an unrelated key', () => {
    expect(errorOf({ training: { maxStep: 3 } }).message).toContain('unknown key maxStep — did you mean maxSteps?');
    const e = errorOf({ training: { warmupRatio: 0.1 } });
    expect(e.message).toContain('unknown key warmupRatio');
    expect(e.message).not.toContain('did you mean');
  });
});
