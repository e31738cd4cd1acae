// Fuzzing JSONL datasets (run by `pnpm fuzz`): files of chat records mixed with records edited
// into hostile shapes, random JSON, garbage text, invalid UTF-8, deeply nested arrays, long lines,
// conversations over the message limit, blank lines, CRLF and BOMs; read in `skip` and `strict`
// mode (sometimes with a small maxLineBytes), and every kept record encoded through a chat
// template and tokenizer as training does. A case must finish with consistent counts
// (`read = kept + skipped`), or stop with a @lora error naming `file:line`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoraError } from '@lora/core';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { applyJsonEdits, jsonEdits, runFuzz } from '../../../../tools/fuzz/harness.js';
import { MAX_MESSAGES_PER_RECORD, MessagesRecordSchema } from '../formats/messages.js';
import { type ExampleEncoder, exampleEncoder } from '../inspect/encode-example.js';
import { referenceTokenizerDir } from '../test/reference-tokenizers.js';
import { loadTokenizer } from '../tokenizers/load-tokenizer.js';
import { readJsonl } from './jsonl.js';

const dir = mkdtempSync(join(tmpdir(), 'lora-fuzz-jsonl-'));
let encode: ExampleEncoder;
beforeAll(async () => {
  // Qwen3's real tokenizer and chat template (tools, thinking blocks, raise_exception paths).
  encode = exampleEncoder(await loadTokenizer(referenceTokenizerDir('qwen3')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const enc = new TextEncoder();
const message = fc.record({ role: fc.constantFrom('system', 'user', 'assistant'), content: fc.string({ maxLength: 40 }) });
const record = fc.record({ messages: fc.array(message, { minLength: 1, maxLength: 4 }) });
const noNewline = (s: string) => s.replace(/[\r\n]/g, ' ');

/** One line's bytes (no terminator). */
const line: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: record.map((r) => enc.encode(JSON.stringify(r))) },
  {
    weight: 4,
    arbitrary: fc.tuple(record, jsonEdits(2)).map(([r, e]) => enc.encode(noNewline(JSON.stringify(applyJsonEdits(r, e)) ?? ''))),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => enc.encode(noNewline(JSON.stringify(v) ?? 'null'))) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((s) => enc.encode(noNewline(s))) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((b) => b.map((x) => (x === 10 || x === 13 ? 32 : x))) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        record,
        fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => b.map((x) => 0x80 | (x & 0x3f))),
      )
      .map(([r, bad]) => {
        const [head, tail] = JSON.stringify(r).split(/(?<="content":")/);
        return new Uint8Array([...enc.encode(head), ...(tail === undefined ? [] : [...bad, ...enc.encode(tail)])]);
      }),
  },
  { weight: 1, arbitrary: fc.nat({ max: 20_000 }).map((n) => enc.encode(`${'['.repeat(n)}${']'.repeat(n)}`)) },
  {
    weight: 1,
    arbitrary: fc.nat({ max: 50_000 }).map((n) => enc.encode(JSON.stringify({ messages: [{ role: 'user', content: 'a'.repeat(n) }] }))),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: MAX_MESSAGES_PER_RECORD - 2, max: MAX_MESSAGES_PER_RECORD * 3 })
      .map((n) =>
        enc.encode(
          JSON.stringify({ messages: Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'x' })) }),
        ),
      ),
  },
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '\t').map((s) => enc.encode(s)) },
);

const file = fc.record({
  lines: fc.array(line, { minLength: 0, maxLength: 12 }),
  crlf: fc.boolean(),
  bom: fc.boolean(),
  finalNewline: fc.boolean(),
  mode: fc.constantFrom('skip' as const, 'strict' as const),
  maxLineBytes: fc.option(fc.integer({ min: 1, max: 4096 }), { freq: 4 }),
});
type FuzzFile = typeof file extends fc.Arbitrary<infer T> ? T : never;

function bytesOf(f: FuzzFile): Uint8Array {
  const eol = enc.encode(f.crlf ? '\r\n' : '\n');
  const parts: Uint8Array[] = f.bom ? [new Uint8Array([0xef, 0xbb, 0xbf])] : [];
  f.lines.forEach((l, i) => {
    parts.push(l);
    if (i < f.lines.length - 1 || f.finalNewline) parts.push(eol);
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

it('JSONL: hostile datasets read with consistent counts and encode, or fail naming file:line', async () => {
  const report = await runFuzz({
    name: 'jsonl',
    runs: 1500,
    seed: 44,
    arbitrary: file,
    describe: (f) =>
      `${f.lines.length} lines, ${f.mode}, maxLineBytes ${f.maxLineBytes}, first: ${new TextDecoder().decode(f.lines[0]?.subarray(0, 120))}`,
    async run(f, index) {
      const path = join(dir, `case-${index}.jsonl`);
      writeFileSync(path, bytesOf(f));
      try {
        const reader = readJsonl(path, {
          schema: MessagesRecordSchema,
          mode: f.mode,
          ...(f.maxLineBytes === null ? {} : { maxLineBytes: f.maxLineBytes }),
        });
        for await (const r of reader) encode({ format: 'messages', messages: r.messages, metadata: {} });
        const { read, kept, skipped } = reader.report;
        if (read !== kept + skipped.length) throw new Error(`report: read ${read} ≠ kept ${kept} + skipped ${skipped.length}`);
        if (read > f.lines.length) throw new Error(`report: read ${read} records from ${f.lines.length} lines`);
        return 'accepted';
      } finally {
        rmSync(path, { force: true });
      }
    },
    isClearError: (error) => LoraError.isInstance(error) && /case-\d+\.jsonl(:\d+)?/.test(error.message),
  });
  expect(report.crashed, JSON.stringify(report.failures.slice(0, 5), null, 2)).toBe(0);
  expect(report.hung).toBe(0);
});
