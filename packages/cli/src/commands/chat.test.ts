import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { STORIES_CHAT_TEMPLATE, loadTokenizer, renderChat } from '@lora/data';
import { generate, loadModel, selectBackend } from '@lora/models';
import { getPeftModel, loadPeftModel, loraConfig } from '@lora/peft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../program.js';
import type { ChatIo } from './chat.js';

const assets = process.env.LORA_ASSETS_DIR;
const skipReason = 'skipped: LORA_ASSETS_DIR is unset (point it at ../shared to run)';
if (assets === undefined) console.warn(`[lora chat] ${skipReason}`);
const backend = process.env.LORA_TEST_BACKEND ?? 'wasm';
const MAX_NEW = 16;

/** Runs `lora chat <args>` in-process with `lines` piped on stdin (not a TTY). */
async function chat(args: readonly string[], lines: readonly string[]) {
  let stdout = '';
  let stderr = '';
  const io: ChatIo = {
    writeOut: (t) => void (stdout += t),
    writeErr: (t) => void (stderr += t),
    env: { LORA_ASSETS_DIR: assets, LORA_BACKEND: backend },
    stdin: Readable.from(lines.map((l) => `${l}\n`)),
  };
  const code = await run(['node', 'lora', 'chat', ...args], io);
  return { code, stdout, stderr };
}

describe.skipIf(assets === undefined)(`lora chat on stories260K${assets === undefined ? ` (${skipReason})` : ''}`, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lora-chat-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The greedy reply of stories260K (optionally with a PEFT adapter) to a conversation, computed directly with @lora/models. */
  async function directReply(messages: { role: string; content: string }[], maxNew = MAX_NEW, adapter?: string): Promise<string> {
    await selectBackend({ backend: backend as 'wasm' });
    const { model: base, path } = await loadModel(join(assets as string, 'models', 'stories260K'));
    const model = adapter === undefined ? base : await loadPeftModel(base, adapter);
    try {
      const tok = await loadTokenizer(join(path, '..'), { vocabSize: model.config.vocabSize });
      const ids = tok.encode(renderChat(tok, messages as never, { addGenerationPrompt: true, chatTemplate: STORIES_CHAT_TEMPLATE }), {
        addBos: true,
      });
      const { sequences } = await generate(model, [ids], { maxNewTokens: maxNew, stopTokenIds: tok.eosTokenIds });
      const text = tok.decode([...ids, ...(sequences[0] ?? [])]).slice(tok.decode(ids).length);
      const stop = text.indexOf('\nUser:');
      return (stop >= 0 ? text.slice(0, stop) : text).trim();
    } finally {
      model.dispose();
    }
  }

  it('keeps the conversation, answers like generate, /reset forgets, /exit quits, postprocess runs', async () => {
    const post = join(dir, 'post.mjs');
    writeFileSync(
      post,
      'export function postprocess(reply, messages) { return `[post] turns=${messages.length} chars=${reply.length}`; }\n',
    );
    const args = ['--model', 'stories260K', '--chat-template', 'stories', '--max-new-tokens', String(MAX_NEW), '--postprocess', post];
    const { code, stdout, stderr } = await chat(args, [
      'Tom had a red ball.',
      'What did Tom do?',
      '/reset',
      'Tom had a red ball.',
      '/exit',
      'never read',
    ]);
    expect(stderr).not.toContain('unexpected error');
    expect(code).toBe(0);
    const out = stdout.split('\n');
    // reply 1, post 1, reply 2, post 2, reset line, reply 3, post 3, trailing ''.
    expect(out).toHaveLength(8);
    const [r1, p1, r2, p2, reset, r3, p3] = out as [string, string, string, string, string, string, string];
    expect(reset).toBe('(conversation reset)');
    expect(stdout).not.toContain('> ');
    const first = [{ role: 'user', content: 'Tom had a red ball.' }];
    expect(r1).toBe(await directReply(first));
    // The second turn sees the first exchange.
    expect(r2).toBe(await directReply([...first, { role: 'assistant', content: r1 }, { role: 'user', content: 'What did Tom do?' }]));
    // After /reset the same question gets the same (greedy) answer as the first time.
    expect(r3).toBe(r1);
    expect(p1).toBe(`[post] turns=2 chars=${r1.length}`);
    expect(p2).toBe(`[post] turns=4 chars=${r2.length}`);
    expect(p3).toBe(`[post] turns=2 chars=${r3.length}`);
  });

  it('keeps the system message and ends at the end of input', async () => {
    const { code, stdout } = await chat(
      ['--model', 'stories260K', '--chat-template', 'stories', '--max-new-tokens', '8', '--system', 'Tell a story.'],
      ['Once upon a time'],
    );
    expect(code).toBe(0);
    expect(stdout.trimEnd()).toBe(
      await directReply(
        [
          { role: 'system', content: 'Tell a story.' },
          { role: 'user', content: 'Once upon a time' },
        ],
        8,
      ),
    );
  });

  it('says what is wrong with a --postprocess module that has no postprocess export', async () => {
    const bad = join(dir, 'bad.mjs');
    writeFileSync(bad, 'export const x = 1;\n');
    const { code, stderr } = await chat(['--model', 'stories260K', '--chat-template', 'stories', '--postprocess', bad], ['hi']);
    expect(code).toBe(1);
    expect(stderr).toContain('does not export a function `postprocess(reply, messages)`');
  });

  it('answers with a PEFT adapter as the adapted model does', async () => {
    await selectBackend({ backend: backend as 'wasm' });
    const { model } = await loadModel(join(assets as string, 'models', 'stories260K'));
    const adapter = join(dir, 'adapter');
    const peft = getPeftModel(model, loraConfig({ r: 4, loraAlpha: 64, targetModules: 'all-linear', initLoraWeights: false }));
    await peft.saveAdapter(adapter);
    peft.dispose();
    const { code, stdout, stderr } = await chat(
      ['--model', 'stories260K', '--chat-template', 'stories', '--adapter', adapter, '--max-new-tokens', '8'],
      ['Tom had a red ball.'],
    );
    expect(stderr).toContain(`adapter ${adapter}`);
    expect(code).toBe(0);
    const adapted = await directReply([{ role: 'user', content: 'Tom had a red ball.' }], 8, adapter);
    expect(stdout.trimEnd()).toBe(adapted);
    expect(adapted).not.toBe(await directReply([{ role: 'user', content: 'Tom had a red ball.' }], 8));
  });

  it('runs on a 4-bit NF4 base', async () => {
    const { code, stdout, stderr } = await chat(
      ['--model', 'stories260K', '--chat-template', 'stories', '--quantize', 'nf4', '--max-new-tokens', '4'],
      ['Hello'],
    );
    expect(stderr).toContain('quantized');
    expect(code).toBe(0);
    expect(stdout.split('\n')).toHaveLength(2);
  });
});
