import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../testing.js';

const assets = process.env.LORA_ASSETS_DIR;
const dir = mkdtempSync(join(tmpdir(), 'lora-bad-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const smokeRecipe = join(import.meta.dirname, '../../../../examples/carbot/recipes/smoke.yaml');
const chat = (u: string, a: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: u },
      { role: 'assistant', content: a },
    ],
  });

/** No stack frame (`    at fn (file:line)`) in what the user sees. */
const noStack = (stderr: string) => expect(stderr).not.toMatch(/^\s+at /m);

describe('lora on bad input: one clear line, no stack, exit code 1', () => {
  it('README train command without CARBOT_DATA names the variable and the recipe field', async () => {
    const env = { ...process.env, CARBOT_DATA: undefined };
    const { code, stderr } = await runCaptured(['train', smokeRecipe, '--output', join(dir, 'x')], env);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^lora: .*smoke\.yaml \(data\.train\): uses the environment variable CARBOT_DATA \(`\$\{CARBOT_DATA\}`\), which is not set\. Set it before the command/,
    );
    noStack(stderr);
  });

  it('lora eval: an empty test set, or a malformed line, names the file (and line) before any model loads', async () => {
    const file = join(dir, 'eval.yaml');
    writeFileSync(file, ['model: stories260K', 'data: { train: train.jsonl }', 'evaluation: { test: test.jsonl }'].join('\n'));
    writeFileSync(join(dir, 'test.jsonl'), '\n');
    const empty = await runCaptured(['eval', file, '--out', join(dir, 'eval-out')]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toBe(`lora: ${join(dir, 'test.jsonl')}: the test set is empty: it holds no record.\n`);
    writeFileSync(join(dir, 'test.jsonl'), '{"prompt":"a"}\n{"prompt":\n');
    const broken = await runCaptured(['eval', file, '--out', join(dir, 'eval-out')]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(new RegExp(`^lora: ${join(dir, 'test.jsonl')}:2: invalid JSON`));
  });

  it.skipIf(!assets)('--model /dev/zero', async () => {
    const { code, stderr } = await runCaptured(['generate', '--model', '/dev/zero', '--prompt', 'hi', '--backend', 'cpu'], {
      ...process.env,
      LORA_ASSETS_DIR: assets,
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(/lora: \/dev\/zero: is neither a regular file nor a folder/);
    noStack(stderr);
  });
});

describe.skipIf(!assets)('lora train on bad data (stories260K)', () => {
  const env = { ...process.env, LORA_ASSETS_DIR: assets, LORA_TEST_BACKEND: process.env.LORA_TEST_BACKEND ?? 'wasm' };
  const recipe = (name: string, lines: string[]) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      [
        'name: bad-data',
        'model: stories260K',
        'backend: ${LORA_TEST_BACKEND}',
        'adapter: { r: 4, targetModules: all-linear }',
        ...lines,
        'training: { maxSteps: 1, learningRate: 0.01 }',
      ].join('\n'),
    );
    return file;
  };

  it('lora data inspect: a --chat-template that does not exist is named', async () => {
    writeFileSync(join(dir, 'inspect.jsonl'), `${chat('Hi', 'Hello.')}\n`);
    const missing = join(dir, 'missing.jinja');
    const { code, stderr } = await runCaptured(
      ['data', 'inspect', join(dir, 'inspect.jsonl'), '--tokenizer', 'stories260K', '--chat-template', missing],
      env,
    );
    expect(code).toBe(1);
    expect(stderr).toBe(`lora: ${missing}: the chat template (--chat-template) does not exist.\n`);
  });

  it('an empty dataset is an error naming the file', async () => {
    writeFileSync(join(dir, 'empty.jsonl'), '\n\n');
    const file = recipe('empty', ['data: { train: empty.jsonl, chatTemplate: stories, addBos: true, maxLength: 64 }']);
    const { code, stderr } = await runCaptured(['train', file, '--output', join(dir, 'out-empty')], env);
    expect(code).toBe(1);
    expect(stderr).toContain(`lora: ${join(dir, 'empty.jsonl')}: the dataset is empty: it holds no record.`);
    noStack(stderr);
  });

  it("token ids beyond the model's vocabulary (another model's tokenizer) name file:line", async () => {
    writeFileSync(join(dir, 'train.jsonl'), `${chat('What is the weather like in Paris today?', 'It is sunny and warm.')}\n`);
    const tokenizer = join(assets as string, 'models', 'SmolLM2-135M-Instruct');
    const file = recipe('vocab', [`tokenizer: ${tokenizer}`, 'data: { train: train.jsonl, chatTemplate: stories, maxLength: 64 }']);
    const { code, stderr } = await runCaptured(['train', file, '--output', join(dir, 'out-vocab')], env);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      new RegExp(
        `lora: ${join(dir, 'train.jsonl')}:1 \\(inputIds\\): the tokenizer produced token id \\d+, outside the model's vocabulary \\(vocab_size 512\\)`,
      ),
    );
    noStack(stderr);
  }, 120_000);

  it('the README command works with a relative CARBOT_DATA, resolved against the working directory', async () => {
    const data = join(dir, 'carbot-data');
    mkdirSync(data);
    const rows = [chat('Open the window', 'The window is open.'), chat('Play music', 'Playing music now.')];
    for (const split of ['train', 'validation', 'test']) writeFileSync(join(data, `${split}.jsonl`), `${rows.join('\n')}\n`);
    const out = join(dir, 'out-readme');
    const { code, stderr } = await runCaptured(['train', smokeRecipe, '--output', out, '--max-steps', '1'], {
      ...env,
      CARBOT_DATA: relative(process.cwd(), data),
    });
    expect(code, stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'data_report.json'), 'utf8')).train).toMatchObject({
      file: join(data, 'train.jsonl'),
      kept: 2,
    });
  }, 120_000);
});
