import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../testing.js';

const assets = process.env.LORA_ASSETS_DIR;
const dir = mkdtempSync(join(tmpdir(), 'lora-train-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stories = [
  ['Tell me about the cat.', 'The cat sat on the mat and looked at the sun.'],
  ['What did Tom do?', 'Tom ran to the park and played with his red ball.'],
  ['Where is the dog?', 'The dog is in the garden, sleeping under the big tree.'],
  ['Who is Lily?', 'Lily is a little girl who loves to sing songs.'],
];

describe.skipIf(!assets)('lora train (stories260K)', () => {
  const data = join(dir, 'train.jsonl');
  writeFileSync(data, stories.map(([u, a]) => JSON.stringify({ messages: [{ role: 'user', content: u }, { role: 'assistant', content: a }] })).join('\n') + '\n');
  const recipe = join(dir, 'recipe.yaml');
  writeFileSync(
    recipe,
    [
      'name: cli-smoke',
      'model: stories260K',
      'backend: ${LORA_TEST_BACKEND}',
      'adapter: { r: 8, loraAlpha: 16, targetModules: all-linear }',
      'data:',
      '  train: train.jsonl',
      '  chatTemplate: stories',
      '  addBos: true',
      '  maxLength: 64',
      '  batchSize: 2',
      'training: { maxSteps: 6, learningRate: 0.01, lrScheduler: constant, saveSteps: 3, seed: 1 }',
    ].join('\n'),
  );
  const env = { LORA_ASSETS_DIR: assets, LORA_TEST_BACKEND: process.env.LORA_TEST_BACKEND ?? 'wasm' };
  const out = join(dir, 'out');

  it('trains, lowering the loss, and writes the PEFT adapter, state, log and plots', async () => {
    const { code, stdout, stderr } = await runCaptured(['train', recipe, '--output', out], env);
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ steps: 6, stopReason: 'max_steps' });
    expect(summary.lastLoss).toBeLessThan(summary.firstLoss);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'trainer_state.json', 'train_log.jsonl', 'loss.svg', 'lr.svg', 'data_report.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'))).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 16 });
    expect(JSON.parse(readFileSync(join(out, 'data_report.json'), 'utf8')).train).toMatchObject({ kept: 4, skipped: 0, batches: 2 });
  });

  it('--resume continues from the latest checkpoint', async () => {
    const { code, stdout, stderr } = await runCaptured(['train', recipe, '--output', out, '--resume', '--max-steps', '8'], env);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ steps: 8 });
    const log = readFileSync(join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.some((r) => r.step === 7)).toBe(true);
  });

  it('names the recipe field that is wrong', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'model: stories260K\ndata: { train: x.jsonl, batchSize: 0 }\n');
    const { code, stderr } = await runCaptured(['train', bad], env);
    expect(code).toBe(1);
    expect(stderr).toContain('data.batchSize');
  });
});
