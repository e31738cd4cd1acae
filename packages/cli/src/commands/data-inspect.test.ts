import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../testing.js';

const assets = process.env.LORA_ASSETS_DIR;
const dir = mkdtempSync(join(tmpdir(), 'lora-inspect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const chat = (user: string, assistant: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ],
  });

describe.skipIf(!assets)('lora data inspect (stories260K tokenizer)', () => {
  const env = { LORA_ASSETS_DIR: assets, NO_COLOR: '1' };

  it('prints per-record token counts as JSON lines and a summary', async () => {
    const file = join(dir, 'chat.jsonl');
    writeFileSync(file, `${chat('Tell me a story.', 'Once upon a time there was a cat.')}\n${chat('Hi', 'Hello!')}\n`);
    const { code, stdout, stderr } = await runCaptured(
      ['data', 'inspect', file, '--tokenizer', 'stories260K', '--chat-template', 'stories', '--json'],
      env,
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ line: 1 });
    expect(lines[0].trainedTokens).toBeGreaterThan(0);
    expect(lines[0].trainedTokens).toBeLessThan(lines[0].tokens);
    expect(lines[2]).toMatchObject({ read: 2, kept: 2, skipped: 0 });
    expect(lines[2].summary.tokens).toBe(lines[0].tokens + lines[1].tokens);
  });

  it('renders an example with the trained tokens bracketed', async () => {
    const file = join(dir, 'pc.jsonl');
    writeFileSync(file, `${JSON.stringify({ prompt: 'The cat', completion: ' sat on the mat.' })}\n`);
    const { code, stdout } = await runCaptured(['data', 'inspect', file, '--tokenizer', 'stories260K'], env);
    expect(code).toBe(0);
    expect(stdout).toContain('[[');
    expect(stdout).toContain('sat on the mat.');
    expect(stdout).toMatch(/trained tokens\s+\d+/);
  });

  it('exits non-zero naming file:line and the field of a bad record', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, `${chat('a', 'b')}\n${JSON.stringify({ messages: [{ role: 'wizard', content: 'x' }] })}\n`);
    const { code, stderr } = await runCaptured(
      ['data', 'inspect', file, '--tokenizer', 'stories260K', '--chat-template', 'stories', '--format', 'messages'],
      env,
    );
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}:2`);
    expect(stderr).toContain('role');
  });

  it('counts bad records in skip mode', async () => {
    const file = join(dir, 'bad.jsonl');
    const { code, stdout } = await runCaptured(
      ['data', 'inspect', file, '--tokenizer', 'stories260K', '--stories-template', '--format', 'messages', '--mode', 'skip', '--json'],
      env,
    );
    expect(code).toBe(0);
    const last = JSON.parse(stdout.trim().split('\n').at(-1) as string);
    expect(last).toMatchObject({ read: 2, kept: 1, skipped: 1 });
  });

  it('an empty dataset file is an error naming the file, not a table of zeros', async () => {
    const file = join(dir, 'empty.jsonl');
    writeFileSync(file, '\n\n');
    const { code, stdout, stderr } = await runCaptured(['data', 'inspect', file, '--tokenizer', 'stories260K'], env);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(file);
    expect(stderr).toContain('the dataset is empty');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('counts and lists records with invalid UTF-8', async () => {
    const file = join(dir, 'latin1.jsonl');
    writeFileSync(file, Buffer.concat([Buffer.from('{"text":"fine"}\n{"text":"caf'), Buffer.from([0xe9]), Buffer.from(' au lait"}\n')]));
    const { code, stdout } = await runCaptured(['data', 'inspect', file, '--tokenizer', 'stories260K'], env);
    expect(code).toBe(0);
    expect(stdout).toMatch(/records with invalid UTF-8\s+1/);
    expect(stdout).toContain('1 record with invalid UTF-8 (bad bytes read as U+FFFD), at line 2');
    const json = await runCaptured(['data', 'inspect', file, '--tokenizer', 'stories260K', '--json'], env);
    expect(JSON.parse(json.stdout.trim().split('\n').at(-1) as string)).toMatchObject({ read: 2, invalidUtf8: 1 });
  });
});

describe('--chat-template', () => {
  it('is spelled the same in data inspect and chat; --stories-template is a hidden alias', async () => {
    for (const command of [['data', 'inspect'], ['chat']]) {
      const { stdout } = await runCaptured([...command, '--help']);
      expect(stdout, command.join(' ')).toContain('--chat-template <stories|file>');
      expect(stdout, command.join(' ')).not.toContain('--stories-template');
    }
  });
});
