import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, resolveAsset } from '@lora/core';
import { loadTokenizer } from '@lora/data';
import { loadModel } from '@lora/models';
import { setupTestBackend } from '@lora/models/test';
import { loadPeftModel } from '@lora/peft';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sft } from './sft.js';

const assets = process.env.LORA_ASSETS_DIR;
const haveStories = assets !== undefined && existsSync(join(assets, 'models', 'stories260K'));
const README = join(import.meta.dirname, '../../../README.md');

// The README's fine-tune, verbatim between the markers: the test fails when the two drift apart.
const snippet = async () => {
  // BEGIN README SNIPPET
  const dir = await resolveAsset('stories260K', { kind: 'model' });
  const { model } = await loadModel(dir, { nameOrPath: 'stories260K' });
  const tokenizer = await loadTokenizer(dir);
  const dataset = [
    { prompt: 'Lily had a red ball.', completion: ' She liked to throw it to her dog Max.' },
    { prompt: 'Tom saw a big tree.', completion: ' He climbed it and saw the sea.' },
  ];
  const { model: peft, result } = await sft({
    model,
    tokenizer,
    dataset,
    lora: { r: 8, lora_alpha: 16, target_modules: 'all-linear' },
    args: { maxSteps: 30, learningRate: 1e-2, perDeviceTrainBatchSize: 2, outputDir: 'runs/stories-sft' },
  });
  // END README SNIPPET
  return { peft, result };
};

let cwd: string;
let previous: string;
beforeAll(async () => {
  await setupTestBackend();
  cwd = await mkdtemp(join(tmpdir(), 'lora-sft-'));
  previous = process.cwd();
  process.chdir(cwd);
});
afterAll(async () => {
  process.chdir(previous);
  await rm(cwd, { recursive: true, force: true });
});

function snippetLines(text: string): string[] {
  const begin = text.indexOf('// BEGIN README SNIPPET');
  const end = text.indexOf('// END README SNIPPET');
  return text
    .slice(text.indexOf('\n', begin) + 1, end)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('return'));
}

describe('sft', () => {
  it('the README shows the same snippet as this test runs', () => {
    const lines = snippetLines(readFileSync(import.meta.filename, 'utf8'));
    const readme = readFileSync(README, 'utf8')
      .split('\n')
      .map((l) => l.trim());
    expect(lines.length).toBeGreaterThan(8);
    for (const line of lines) expect(readme, line).toContain(line);
  });

  it.skipIf(!haveStories)('fine-tunes stories260K from records: loss falls, the adapter reloads with loadPeftModel', async () => {
    const { peft, result } = await snippet();
    expect(result.step).toBe(30);
    const first = result.losses[0] as number;
    const last = result.losses.at(-1) as number;
    expect(last).toBeLessThan(first * 0.7);
    const out = join(cwd, 'runs/stories-sft');
    // Running the same snippet again is refused with what to do, before anything is trained.
    await expect(snippet()).rejects.toThrow(/overwriteOutputDir: true.*resumeFromCheckpoint: true/);
    const config = JSON.parse(await readFile(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ r: 8, lora_alpha: 16, base_model_name_or_path: 'stories260K', peft_type: 'LORA' });
    const input = tf.tensor2d([[1, 403, 261, 280, 9]], [1, 5], 'int32');
    const trained = peft.forward(input);
    const dir = await resolveAsset('stories260K', { kind: 'model' });
    const reloaded = await loadPeftModel((await loadModel(dir)).model, out);
    const again = reloaded.forward(input);
    // Read with await data(): webgpu has no dataSync.
    const maxDiff = tf.max(tf.abs(tf.sub(trained, again)));
    expect((await maxDiff.data())[0]).toBeLessThan(1e-5);
    tf.dispose([input, trained, again, maxDiff]);
    peft.dispose();
    reloaded.dispose();
  });

  it.skipIf(!haveStories)('trains conversations on assistant turns only, with an eval split, and names a bad record', async () => {
    const dir = await resolveAsset('stories260K', { kind: 'model' });
    const { model } = await loadModel(dir);
    const tokenizer = await loadTokenizer(dir);
    const template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}";
    const messages = [
      { role: 'user', content: 'Tell me about Lily.' },
      { role: 'assistant', content: 'Lily had a red ball.' },
    ];
    await expect(
      sft({ model, tokenizer, dataset: [{ messages }, { message: [] }], args: { maxSteps: 1, progress: false, chatTemplate: template } }),
    ).rejects.toThrow(/dataset\[1\]/);
    const { model: peft, data } = await sft({
      model,
      tokenizer,
      dataset: [{ messages }, { messages }, { messages }],
      evalDataset: [{ messages }],
      lora: { r: 4, targetModules: ['q_proj', 'v_proj'] },
      args: { numTrainEpochs: 2, perDeviceTrainBatchSize: 2, progress: false, chatTemplate: template },
    });
    expect(data.train).toMatchObject({ examples: 3, kept: 3, batches: 2 });
    expect(data.eval?.batches).toBe(1);
    // A dataset file, TRL's snake_case argument names, packing and full-sequence loss.
    const file = join(cwd, 'train.jsonl');
    writeFileSync(
      file,
      `${JSON.stringify({ prompt: 'Tom had a cat.', completion: ' It was big.' })}\n${JSON.stringify({ text: 'Lily ran.' })}\n`,
    );
    const packed = await sft({
      model: peft,
      tokenizer,
      dataset: file,
      args: { max_steps: 2, learning_rate: 1e-3, packing: true, completion_only_loss: false, progress: false } as never,
    });
    expect(packed.result.step).toBe(2);
    expect(packed.data.train).toMatchObject({ examples: 2, kept: 2, batches: 1 });
    const full = tokenizer.encode('Tom had a cat. It was big.').length + tokenizer.encode('Lily ran.').length + 2;
    expect(packed.data.train.trainedTokens).toBeGreaterThanOrEqual(full - 2);
    await expect(
      sft({ model: peft, tokenizer, dataset: file, args: { learningRate: 1e-3, learning_rate: 1e-3 } as never }),
    ).rejects.toThrow(/given twice/);
    await expect(sft({ model: peft, tokenizer, dataset: file, args: { learningRat: 1e-3, maxSteps: 1 } as never })).rejects.toThrow(
      /unknown key learningRat — did you mean learningRate\?/,
    );
    const userTokens = tokenizer.encode('user: Tell me about Lily.\n', { addBos: false }).length;
    const allTokens = tokenizer.encode(`user: Tell me about Lily.\nassistant: Lily had a red ball.\n`, { addBos: false }).length;
    expect(data.train.trainedTokens / 3).toBeLessThan(allTokens - userTokens + 1);
    await expect(sft({ model: peft, tokenizer, dataset: [{ text: 'x' }], lora: { r: 2 } })).rejects.toThrow(InvalidArgumentError);
    peft.dispose();
  });
});
