import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readJson } from './json.js';
import { JsonArrayScanner } from './json-array-scanner.js';

const dir = mkdtempSync(join(tmpdir(), 'lora-json-'));
function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const Row = z.object({ text: z.string() });

describe('readJson', () => {
  it('reads a root array, with the start line of each element', async () => {
    const file = write('array.json', '[\n  {"text": "a ] } , \\" ["},\n  {\n    "text": "b"\n  }\n]\n');
    const entries = [];
    for await (const e of readJson(file, { schema: Row }).entries()) entries.push([e.line, e.value.text]);
    expect(entries).toEqual([
      [2, 'a ] } , " ['],
      [3, 'b'],
    ]);
  });

  it('reads {"data": [...]}, ignoring other keys (even ones holding arrays)', async () => {
    const file = write(
      'wrapped.json',
      '{"meta": {"data": [1]}, "other": [{"text": "no"}], "da\\u0074a": [{"text": "x"}, {"text": "y"}], "tail": 1}',
    );
    expect(await readJson(file, { schema: Row }).toArray()).toEqual([{ text: 'x' }, { text: 'y' }]);
  });

  it('honours a custom arrayKey', async () => {
    const file = write('custom.json', '{"GetWeather": [{"text": "rain?"}]}');
    expect(await readJson(file, { schema: Row, arrayKey: 'GetWeather' }).toArray()).toEqual([{ text: 'rain?' }]);
  });

  it('gives the same elements whatever the chunking', () => {
    const text = '{"x": "[", "data": [ {"text": "a\\\\"}, 12, "s,]", true, null, {"text": [1, {"t": "}"}]} ] }';
    const whole = new JsonArrayScanner('data');
    const expected = [...whole.push(text), ...whole.end()].map((e) => e.text);
    expect(expected).toEqual(['{"text": "a\\\\"}', '12', '"s,]"', 'true', 'null', '{"text": [1, {"t": "}"}]}']);
    for (const size of [1, 2, 3, 7]) {
      const scanner = new JsonArrayScanner('data');
      const got: string[] = [];
      for (let i = 0; i < text.length; i += size) got.push(...scanner.push(text.slice(i, i + size)).map((e) => e.text));
      got.push(...scanner.end().map((e) => e.text));
      expect(got).toEqual(expected);
    }
  });

  it('skip mode lists malformed and invalid elements with their lines', async () => {
    const file = write('mixed.json', '[\n{"text": "ok"},\n{"text": 5},\n{"text": tru},\n"str",\n{"text": "ok2"}\n]');
    const reader = readJson(file, { schema: Row, mode: 'skip' });
    expect(await reader.toArray()).toEqual([{ text: 'ok' }, { text: 'ok2' }]);
    expect(reader.report.skipped.map((s) => [s.line, s.field])).toEqual([
      [3, 'text'],
      [4, '<record>'],
      [5, '<root>'],
    ]);
    expect(reader.report).toMatchObject({ read: 5, kept: 2 });
  });

  it('structural errors throw FileFormatError with file and line', async () => {
    const truncated = write('truncated.json', '[{"text": "a"},\n{"text": ');
    await expect(readJson(truncated, { schema: Row, mode: 'skip' }).toArray()).rejects.toThrow(/truncated\.json:2: unexpected end of file/);
    const noArray = write('no-array.json', '{"rows": []}');
    const error = await readJson(noArray, { schema: Row })
      .toArray()
      .catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('no "data" array');
    await expect(readJson(write('scalar.json', '42'), { schema: Row }).toArray()).rejects.toThrow(/expected a JSON array/);
    await expect(readJson(write('two.json', '[] []'), { schema: Row }).toArray()).rejects.toThrow(/after the end/);
  });
});

describe('readJson and invalid UTF-8', () => {
  it('counts records holding bytes that are not UTF-8, with a sequence split across read chunks left alone', async () => {
    const file = join(dir, 'latin1.json');
    // 70,000 bytes of valid "é" (2 bytes each) put a chunk boundary (64 KiB) inside one of them.
    const long = '\u00e9'.repeat(35_000);
    writeFileSync(
      file,
      Buffer.concat([Buffer.from(`[\n{"text":"${long}"},\n{"text":"caf`), Buffer.from([0xe9]), Buffer.from('"},\n{"text":"ok"}\n]')]),
    );
    const reader = readJson(file, { schema: Row });
    const rows = await reader.toArray();
    expect(rows.map((r) => r.text)).toEqual([long, 'caf\uFFFD', 'ok']);
    expect(reader.report).toMatchObject({ read: 3, kept: 3, invalidUtf8: 1, invalidUtf8Lines: [3] });
  });
});
