import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readCsv } from './csv.js';
import { readDataset } from './read-dataset.js';

const dir = mkdtempSync(join(tmpdir(), 'lora-csv-'));
function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const Row = z.object({ id: z.coerce.number().int(), text: z.string(), label: z.enum(['yes', 'no']) });

describe('readCsv', () => {
  it('parses a header row, quoted fields with commas, doubled quotes and newlines, with start lines', async () => {
    const file = write('ok.csv', 'id,text,label\n1,plain,yes\n2,"a, b",no\n3,"multi\nline\n""quoted""",yes\n\n4,last,no');
    const entries = [];
    for await (const e of readCsv(file, { schema: Row }).entries()) entries.push(e);
    expect(entries.map((e) => [e.line, e.value])).toEqual([
      [2, { id: 1, text: 'plain', label: 'yes' }],
      [3, { id: 2, text: 'a, b', label: 'no' }],
      [4, { id: 3, text: 'multi\nline\n"quoted"', label: 'yes' }],
      [8, { id: 4, text: 'last', label: 'no' }],
    ]);
  });

  it('counts lines the same in CRLF files (csv-parse drops the \\n of \\r\\n from raw text)', async () => {
    const lf = 'id,text,label\n1,"multi\nline",yes\n\n\n2,x,no\n3,"a\n\nb",no\n4,y,yes';
    const lines = async (text: string, name: string): Promise<number[]> => {
      const out: number[] = [];
      for await (const e of readCsv(write(name, text), { schema: Row }).entries()) out.push(e.line);
      return out;
    };
    expect(await lines(lf, 'lf.csv')).toEqual([2, 6, 7, 10]);
    expect(await lines(lf.replaceAll('\n', '\r\n'), 'crlf.csv')).toEqual([2, 6, 7, 10]);
  });

  it('strict mode: names file:line and the field of a failing record', async () => {
    const file = write('bad.csv', 'id,text,label\n1,"two\nlines",yes\n2,x,maybe\n');
    const error = (await readCsv(file, { schema: Row })
      .toArray()
      .catch((e: unknown) => e)) as FileFormatError;
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect([error.line, error.field]).toEqual([4, 'label']);
  });

  it('skip mode: wrong field counts and schema failures are listed, good rows kept', async () => {
    const file = write('mixed.csv', 'id,text,label\n1,a,yes\n2,b\n3,c,no,extra\nx,d,no\n5,e,no\n');
    const reader = readCsv(file, { schema: Row, mode: 'skip' });
    expect((await reader.toArray()).map((r) => r.id)).toEqual([1, 5]);
    expect(reader.report.skipped.map((s) => [s.line, s.field])).toEqual([
      [3, '<record>'],
      [4, '<record>'],
      [5, 'id'],
    ]);
    expect(reader.report.skipped[0]?.message).toContain('expected 3 fields');
    expect(reader.report).toMatchObject({ read: 5, kept: 2 });
  });

  it('stops cleanly when the consumer breaks early', async () => {
    const file = write('big.csv', `id,text,label\n${Array.from({ length: 20_000 }, (_, i) => `${i},"t ${i}",yes`).join('\n')}`);
    const reader = readCsv(file, { schema: Row });
    for await (const row of reader) {
      expect(row.id).toBe(0);
      break;
    }
    expect(reader.report.read).toBeLessThan(20_000);
    expect((await reader.toArray()).length).toBe(20_000);
  });

  it('an unterminated quote always throws with the file name', async () => {
    const file = write('open-quote.csv', 'id,text,label\n1,"never closed,yes\n');
    await expect(readCsv(file, { schema: Row, mode: 'skip' }).toArray()).rejects.toThrow(file);
  });

  it('supports explicit columns (no header row) and TSV through readDataset', async () => {
    const file = write('rows.tsv', '1\thello, world\tyes\n2\tbye\tno\n');
    const rows = await readDataset(file, { schema: Row })
      .toArray()
      .catch(() => undefined);
    expect(rows).toBeUndefined(); // the first row is taken as the header, so `id` etc. are missing
    const withColumns = await readCsv(file, { schema: Row, delimiter: '\t', columns: ['id', 'text', 'label'] }).toArray();
    expect(withColumns).toEqual([
      { id: 1, text: 'hello, world', label: 'yes' },
      { id: 2, text: 'bye', label: 'no' },
    ]);
  });
});

const assets = process.env.LORA_ASSETS_DIR;
describe.skipIf(assets === undefined)('readCsv on real files (needs LORA_ASSETS_DIR)', () => {
  it('reads XSTest: 450 prompts, 250 safe / 200 unsafe', async () => {
    const file = join(assets ?? '', 'data/xstest/xstest_prompts.csv');
    const schema = z.object({
      id: z.coerce.number().int(),
      prompt: z.string().min(1),
      type: z.string(),
      label: z.enum(['safe', 'unsafe']),
    });
    const rows = [];
    for await (const e of readCsv(file, { schema }).entries()) rows.push(e);
    expect(rows.length).toBe(450);
    expect(rows.filter((r) => r.value.label === 'safe').length).toBe(250);
    expect(rows.every((r) => r.line === r.value.id + 1)).toBe(true); // no multi-line fields: line = id + header
  });

  it('reads AILuminate (CRLF, quoted multi-line prompts) with correct start lines', async () => {
    const file = join(assets ?? '', 'data/ailuminate/airr_official_1.0_demo_en_us_prompt_set_release.csv');
    const schema = z.object({
      release_prompt_id: z.string().startsWith('airr_'),
      prompt_text: z.string().min(1),
      hazard: z.string(),
      locale: z.literal('en_US'),
      prompt_hash: z.string().regex(/^[0-9a-f]{40}$/),
    });
    const physicalLines = readFileSync(file, 'utf8').split('\r\n');
    const rows = [];
    for await (const e of readCsv(file, { schema }).entries()) rows.push(e);
    expect(rows.length).toBe(1200);
    const multiline = rows.filter((r) => r.value.prompt_text.includes('\n'));
    expect(multiline.length).toBe(15);
    for (const r of rows) expect(physicalLines[r.line - 1]?.startsWith(`${r.value.release_prompt_id},`)).toBe(true);
  });
});

describe('readCsv and invalid UTF-8', () => {
  it('counts records holding bytes that are not UTF-8 (Latin-1 é), also inside a multi-line field', async () => {
    const file = join(dir, 'latin1.csv');
    const latin1 = (text: string) => Buffer.from(text, 'latin1');
    writeFileSync(
      file,
      Buffer.concat([
        Buffer.from('id,text,label\n1,ok,yes\n'),
        latin1('2,caf\u00e9,no\n3,"two\nlines \u00e9",yes\n'),
        Buffer.from('4,fine \u00e9,no\n'),
      ]),
    );
    const reader = readCsv(file, { schema: Row });
    const rows = await reader.toArray();
    expect(rows.map((r) => r.text)).toEqual(['ok', 'caf\uFFFD', 'two\nlines \uFFFD', 'fine \u00e9']);
    expect(reader.report).toMatchObject({ read: 4, kept: 4, invalidUtf8: 2, invalidUtf8Lines: [3, 4] });
  });
});
