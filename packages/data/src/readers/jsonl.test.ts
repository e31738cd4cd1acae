import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readJsonl } from './jsonl.js';
import { formatReadReport } from './read-report.js';

const dir = mkdtempSync(join(tmpdir(), 'lora-jsonl-'));
function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const Row = z.object({ prompt: z.string(), completion: z.string() });

describe('readJsonl', () => {
  it('streams records with their line numbers, passing over blank lines and CRLF', async () => {
    const file = write('ok.jsonl', '\uFEFF{"prompt":"a","completion":"b"}\r\n\n{"prompt":"c","completion":"d","extra":1}\n');
    const reader = readJsonl(file, { schema: Row });
    const entries = [];
    for await (const e of reader.entries()) entries.push(e);
    expect(entries).toEqual([
      { line: 1, index: 0, value: { prompt: 'a', completion: 'b' } },
      { line: 3, index: 1, value: { prompt: 'c', completion: 'd' } },
    ]);
    expect(reader.report).toMatchObject({ read: 2, kept: 2, skipped: [] });
  });

  it('strict mode: a schema failure names file:line and the field', async () => {
    const file = write('bad-field.jsonl', '{"prompt":"a","completion":"b"}\n{"prompt":"a","completion":7}\n');
    const error = await readJsonl(file, { schema: Row }).toArray().catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    const ffe = error as FileFormatError;
    expect(ffe.line).toBe(2);
    expect(ffe.field).toBe('completion');
    expect(ffe.message).toContain(`${file}:2 (completion)`);
  });

  it('strict mode: malformed JSON names file:line', async () => {
    const file = write('bad-json.jsonl', '{"prompt":"a","completion":"b"}\n{"prompt": "a",\n');
    await expect(readJsonl(file, { schema: Row }).toArray()).rejects.toThrow(`${file}:2: invalid JSON`);
  });

  it('skip mode: keeps going and reports every skipped record with line, field and first error', async () => {
    const file = write(
      'mixed.jsonl',
      [
        '{"prompt":"a","completion":"b"}',
        'not json',
        '{"prompt":"c"}',
        '{"prompt":"e","completion":"f"}',
        '{"prompt":1,"completion":2}',
      ].join('\n'),
    );
    const reader = readJsonl(file, { schema: Row, mode: 'skip' });
    const rows = await reader.toArray();
    expect(rows.map((r) => r.prompt)).toEqual(['a', 'e']);
    const { read, kept, skipped } = reader.report;
    expect({ read, kept }).toEqual({ read: 5, kept: 2 });
    expect(skipped.map((s) => [s.line, s.field])).toEqual([
      [2, '<record>'],
      [3, 'completion'],
      [5, 'prompt'],
    ]);
    expect(skipped[0]?.message).toMatch(/invalid JSON/);
    expect(read).toBe(kept + skipped.length);
    expect(formatReadReport(reader.report)).toContain(`${file}:3 (completion)`);
  });

  it('re-iterating reads the file again and resets the report', async () => {
    const file = write('twice.jsonl', '{"prompt":"a","completion":"b"}\n');
    const reader = readJsonl(file, { schema: Row });
    await reader.toArray();
    await reader.toArray();
    expect(reader.report.read).toBe(1);
  });

  it('stops reading when the consumer breaks early', async () => {
    const lines = Array.from({ length: 50_000 }, (_, i) => JSON.stringify({ prompt: `p${i}`, completion: 'c' }));
    const file = write('big.jsonl', lines.join('\n'));
    const reader = readJsonl(file, { schema: Row });
    for await (const row of reader) {
      expect(row.prompt).toBe('p0');
      break;
    }
    expect(reader.report.read).toBeLessThan(50_000);
  });
});

const assets = process.env.LORA_ASSETS_DIR;
describe.skipIf(assets === undefined)('readJsonl on GSM8K (needs LORA_ASSETS_DIR)', () => {
  it('reads all 1319 test problems, each with a "#### <number>" final answer', async () => {
    const file = join(assets ?? '', 'data/gsm8k/test.jsonl');
    const schema = z.object({ question: z.string().min(1), answer: z.string().regex(/#### -?[\d,.]+$/) });
    const reader = readJsonl(file, { schema });
    let lastLine = 0;
    for await (const e of reader.entries()) {
      expect(e.line).toBe(lastLine + 1);
      lastLine = e.line;
    }
    expect(reader.report).toMatchObject({ read: 1319, kept: 1319, skipped: [] });
  });
});
