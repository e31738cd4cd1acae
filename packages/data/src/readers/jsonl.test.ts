import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MAX_MESSAGES_PER_RECORD, MessagesRecordSchema } from '../formats/messages.js';
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
    const error = await readJsonl(file, { schema: Row })
      .toArray()
      .catch((e: unknown) => e);
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

describe('readJsonl limits and encodings', () => {
  const Chat = MessagesRecordSchema;

  it('refuses a line over maxLineBytes (default 16 MiB) at file:line, without holding it', async () => {
    const file = join(dir, 'huge-line.jsonl');
    const content = 'x'.repeat(17 * 1024 * 1024);
    writeFileSync(file, `{"messages":[{"role":"user","content":"hi"}]}\n{"messages":[{"role":"user","content":"${content}"}]}\n`);
    const error = await readJsonl(file, { schema: Chat })
      .toArray()
      .catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as FileFormatError).line).toBe(2);
    expect((error as Error).message).toMatch(/:2: the line is 17\.0 MiB, over the maxLineBytes limit of 16\.0 MiB/);
  });

  it('skip mode passes over an over-long line and goes on with the next', async () => {
    const file = write('long-skip.jsonl', `{"prompt":"${'y'.repeat(200)}","completion":"b"}\n{"prompt":"a","completion":"b"}\n`);
    const reader = readJsonl(file, { schema: Row, mode: 'skip', maxLineBytes: 100 });
    expect(await reader.toArray()).toEqual([{ prompt: 'a', completion: 'b' }]);
    expect(reader.report.skipped).toEqual([
      { line: 1, field: '<record>', message: expect.stringMatching(/over the maxLineBytes limit of 100 bytes/) as unknown },
    ]);
  });

  // Found by the JSONL fuzz target (jsonl.fuzz.test.ts): a BOM-only file was one over-long record.
  it('counts neither the BOM nor a CRLF line end against maxLineBytes', async () => {
    const record = '{"prompt":"a","completion":"b"}';
    const file = write('bom-crlf.jsonl', `\uFEFF${record}\r\n${record}\r\n`);
    const reader = readJsonl(file, { schema: Row, mode: 'skip', maxLineBytes: record.length });
    expect(await reader.toArray()).toHaveLength(2);
    expect(reader.report).toMatchObject({ read: 2, kept: 2, skipped: [] });
    const bomOnly = readJsonl(write('bom-only.jsonl', '\uFEFF'), { schema: Row, mode: 'skip', maxLineBytes: 2 });
    expect(await bomOnly.toArray()).toEqual([]);
    expect(bomOnly.report.read).toBe(0);
  });

  it('refuses a record of 150,000 messages quickly, naming the limit, file:line and field', async () => {
    const messages = Array.from({ length: 150_000 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: 'hi' }));
    const file = write('many.jsonl', `${JSON.stringify({ messages })}\n`);
    const started = Date.now();
    const error = await readJsonl(file, { schema: Chat })
      .toArray()
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as FileFormatError).field).toBe('messages');
    expect((error as Error).message).toContain(
      `${file}:1 (messages): \`messages\`: 150000 messages, over the limit of ${MAX_MESSAGES_PER_RECORD} per record`,
    );
  });

  it('counts and reports lines that are not valid UTF-8 (bad bytes become U+FFFD)', async () => {
    const file = join(dir, 'latin1.jsonl');
    const good = Buffer.from('{"prompt":"a","completion":"b"}\n');
    const bad = Buffer.concat([Buffer.from('{"prompt":"caf'), Buffer.from([0xe9]), Buffer.from('","completion":"b"}\n')]);
    writeFileSync(file, Buffer.concat([good, bad, good, bad]));
    const reader = readJsonl(file, { schema: Row });
    const rows = await reader.toArray();
    expect(rows[1]).toEqual({ prompt: 'caf\uFFFD', completion: 'b' });
    expect(reader.report).toMatchObject({ read: 4, kept: 4, invalidUtf8: 2, invalidUtf8Lines: [2, 4] });
    expect(formatReadReport(reader.report)).toContain('2 records with invalid UTF-8 (bad bytes read as U+FFFD), at lines 2, 4');
  });

  it('splits lines that cross read chunks and keeps a last line without a newline', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({ prompt: `p${i}`.padEnd(40, '.'), completion: 'é' }));
    const file = write('chunks.jsonl', rows.map((r) => JSON.stringify(r)).join('\r\n'));
    expect(await readJsonl(file, { schema: Row }).toArray()).toEqual(rows);
  });
});
