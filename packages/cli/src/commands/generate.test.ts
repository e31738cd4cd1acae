import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { loadModel, generate, selectBackend } from '@lora/models';
import { getPeftModel, loraConfig } from '@lora/peft';
import { describe, expect, it } from 'vitest';
import { run } from '../program.js';
import { runCaptured } from '../testing.js';
import type { ChatIo } from './chat.js';
import { decodeContinuation } from '../tokenizer.js';
import { loadTokenizer } from '@lora/data';

const assets = process.env.LORA_ASSETS_DIR;
const haveSmol = assets !== undefined && existsSync(join(assets, 'models', 'SmolLM2-135M-Instruct'));
const backend = { LORA_ASSETS_DIR: assets, LORA_BACKEND: process.env.LORA_TEST_BACKEND ?? 'wasm' };

describe('lora generate', () => {
  it('fails with the places tried and a hint when the model is not found', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'lora-cli-'));
    try {
      const { code, stdout, stderr } = await runCaptured(['generate', '--model', 'no-such-model', '--no-download'], {
        LORA_ASSETS_DIR: empty,
        HF_HOME: join(empty, 'hf'),
      });
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toContain('Asset "no-such-model" not found');
      expect(stderr).toContain(join(empty, 'models', 'no-such-model'));
      expect(stderr).toContain('HINT:');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it.skipIf(!assets)('prints only the generated text of stories260K (greedy)', async () => {
    const { code, stdout, stderr } = await runCaptured(['generate', '--model', 'stories260K', '--max-new-tokens', '20', '--no-download'], {
      LORA_ASSETS_DIR: assets,
      LORA_BACKEND: process.env.LORA_TEST_BACKEND ?? 'wasm',
    });
    expect(stderr.match(/\[lora\] backend: /g)).toHaveLength(1);
    expect(code).toBe(0);
    expect(stdout.startsWith('Once upon a time')).toBe(true);
    expect(stdout.endsWith('\n')).toBe(true);
  });

  it.skipIf(!assets)('--chat-template stories renders the prompt as a user turn, as lora chat does', async () => {
    const args = ['generate', '--model', 'stories260K', '--max-new-tokens', '24', '--no-download', '--prompt', 'Tell me a story'];
    const plain = await runCaptured(args, backend);
    const chat = await runCaptured([...args, '--chat-template', 'stories'], backend);
    expect(plain.code, plain.stderr).toBe(0);
    expect(chat.code, chat.stderr).toBe(0);
    // The same reply lora chat gives to the same first turn (greedy): one line on stdin.
    let chatOut = '';
    const chatCode = await run(['node', 'lora', 'chat', '--model', 'stories260K', '--chat-template', 'stories', '--max-new-tokens', '24'], {
      writeOut: (t) => void (chatOut += t),
      writeErr: () => undefined,
      env: backend,
      stdin: Readable.from(['Tell me a story\n']),
    } as ChatIo);
    const viaChat = { code: chatCode, stdout: chatOut, stderr: '' };
    expect(viaChat.code, viaChat.stderr).toBe(0);
    expect(chat.stdout).not.toBe(plain.stdout);
    expect(chat.stdout.trim().length).toBeGreaterThan(0);
    expect(chat.stdout).not.toContain('User:');
    expect(viaChat.stdout).toContain(chat.stdout.trim());
  });

  it.skipIf(!assets)('--adapter generates with the adapted model, as loadPeftModel + generate do', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-gen-adapter-'));
    try {
      await selectBackend({ backend: (process.env.LORA_TEST_BACKEND ?? 'wasm') as 'wasm' });
      const { model } = await loadModel(join(assets as string, 'models', 'stories260K'));
      const peft = getPeftModel(model, loraConfig({ r: 4, loraAlpha: 64, targetModules: 'all-linear', initLoraWeights: false }));
      const adapter = join(dir, 'adapter');
      await peft.saveAdapter(adapter);
      const direct = await generate(peft, [[1]], { maxNewTokens: 12 });
      peft.dispose();
      const { code, stdout, stderr } = await runCaptured(
        ['generate', '--model', 'stories260K', '--adapter', adapter, '--max-new-tokens', '12', '--no-download'],
        backend,
      );
      expect(code).toBe(0);
      expect(stderr).toContain(`[lora] adapter ${adapter}`);
      const base = await runCaptured(['generate', '--model', 'stories260K', '--max-new-tokens', '12', '--no-download'], backend);
      expect(stdout).not.toBe(base.stdout);
      const tokenizer = await loadTokenizer(join(assets as string, 'models', 'stories260K'));
      expect(stdout.trimEnd()).toBe(decodeContinuation(tokenizer, [1], direct.sequences[0] ?? []).trimEnd());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // SOURCE.txt beside the GGUF: transformers 5.25 (gguf_file=..., fp32, greedy) continues this prompt with
  // " a small town nestled in the heart of a bustling city. The town was known for its vibrant arts ...".
  it.skipIf(!haveSmol)('SmolLM2: encodes the prompt as transformers (no BOS) and continues it the same way', async () => {
    const prompt = 'Once upon a time, there was';
    const { code, stdout } = await runCaptured(
      ['generate', '--model', 'SmolLM2-135M-Instruct', '--prompt', prompt, '--max-new-tokens', '12', '--no-download'],
      backend,
    );
    expect(code).toBe(0);
    expect(stdout).toBe(' a small town nestled in the heart of a bustling city.\n');
  });

  it.skipIf(!haveSmol)('SmolLM2: stops at <|im_end|> by default, and runs on with --ignore-eos', async () => {
    const prompt = '<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n';
    const args = ['generate', '--model', 'SmolLM2-135M-Instruct', '--prompt', prompt, '--max-new-tokens', '14', '--no-download'];
    const stopped = await runCaptured(args, backend);
    expect(stopped.stdout).toBe('The capital of France is Paris.\n');
    const ignored = await runCaptured([...args, '--ignore-eos'], backend);
    expect(ignored.stdout.startsWith('The capital of France is Paris.')).toBe(true);
    expect(ignored.stdout.length).toBeGreaterThan(stopped.stdout.length);
  });
});
