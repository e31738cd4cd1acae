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
  writeFileSync(
    data,
    stories
      .map(([u, a]) =>
        JSON.stringify({
          messages: [
            { role: 'user', content: u },
            { role: 'assistant', content: a },
          ],
        }),
      )
      .join('\n') + '\n',
  );
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

  it("--backend overrides the recipe's backend; an unknown one lists the choices", async () => {
    const other = (process.env.LORA_TEST_BACKEND ?? 'wasm') === 'cpu' ? 'wasm' : 'cpu';
    const run = await runCaptured(['train', recipe, '--output', join(dir, 'out-backend'), '--max-steps', '1', '--backend', other], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`[lora] backend: ${other} — set by backend option`);
    const bad = await runCaptured(['train', recipe, '--backend', 'gpu'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('Allowed choices are tensorflow, tensorflow-gpu, webgpu, wasm, cpu');
  });

  it('trains, lowering the loss, and writes the PEFT adapter, state, log and plots', async () => {
    const { code, stdout, stderr } = await runCaptured(['train', recipe, '--output', out], env);
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary).toMatchObject({ steps: 6, stopReason: 'max_steps' });
    expect(summary.lastLoss).toBeLessThan(summary.firstLoss);
    for (const f of [
      'adapter_config.json',
      'adapter_model.safetensors',
      'trainer_state.json',
      'train_log.jsonl',
      'loss.svg',
      'lr.svg',
      'data_report.json',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'))).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 16 });
    expect(JSON.parse(readFileSync(join(out, 'data_report.json'), 'utf8')).train).toMatchObject({ kept: 4, skipped: 0, batches: 2 });
  });

  it('--resume continues from the latest checkpoint', async () => {
    const { code, stdout, stderr } = await runCaptured(['train', recipe, '--output', out, '--resume', '--max-steps', '8'], env);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ steps: 8 });
    const log = readFileSync(join(out, 'train_log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
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

describe.skipIf(!assets)('lora eval (stories260K, base vs the trained adapter)', () => {
  it('writes the comparison report and resumes from saved predictions', async () => {
    const evalDir = mkdtempSync(join(tmpdir(), 'lora-eval-cli-'));
    try {
      const test = join(evalDir, 'test.jsonl');
      writeFileSync(
        test,
        stories
          .slice(0, 3)
          .map(([u, a], i) =>
            JSON.stringify({
              id: `s${i}`,
              messages: [
                { role: 'user', content: u },
                { role: 'assistant', content: a },
              ],
            }),
          )
          .join('\n') + '\n',
      );
      const recipe = join(evalDir, 'recipe.yaml');
      writeFileSync(
        recipe,
        [
          'name: cli-eval',
          'model: stories260K',
          `output: ${join(evalDir, 'run')}`,
          'data: { train: test.jsonl, chatTemplate: stories, addBos: true, maxLength: 64, batchSize: 2 }',
          'training: { maxSteps: 4, learningRate: 0.01, lrScheduler: constant, seed: 1 }',
          'evaluation: { test: test.jsonl, metrics: [exact_match], maxNewTokens: 12, batchSize: 3 }',
        ].join('\n'),
      );
      const env = { LORA_ASSETS_DIR: assets, LORA_BACKEND: process.env.LORA_TEST_BACKEND ?? 'wasm' };
      const trained = await runCaptured(['train', recipe], env);
      expect(trained.code, trained.stderr).toBe(0);
      const first = await runCaptured(['eval', recipe], env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain('exact_match');
      expect(first.stdout).toMatch(/base/);
      const report = join(evalDir, 'run', 'eval');
      for (const f of ['comparison_summary.md', 'comparison_table.csv', 'metrics_base.json', 'predictions_base.jsonl'])
        expect(existsSync(join(report, f)), f).toBe(true);
      const preds = readFileSync(join(report, 'predictions_base.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(preds.map((p) => p.id)).toEqual(['s0', 's1', 's2']);
      expect(preds[0].reference).toBe(stories[0]?.[1]);
      const before = readFileSync(join(report, 'predictions_base.jsonl'), 'utf8');
      const again = await runCaptured(['eval', recipe], env);
      expect(again.code, again.stderr).toBe(0);
      // Everything was already predicted: the rerun resumes all 3 and generates nothing new.
      expect(again.stderr).toContain('[lora] base: 3 predictions (3 resumed, 0 generated)');
      expect(first.stderr).toContain('[lora] base: 3 predictions (0 resumed, 3 generated)');
      expect(readFileSync(join(report, 'predictions_base.jsonl'), 'utf8')).toBe(before);
    } finally {
      rmSync(evalDir, { recursive: true, force: true });
    }
  });
});
