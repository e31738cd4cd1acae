import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@lora/core';
import { loadModel } from '@lora/models';
import { setupTestBackend } from '@lora/models/test';
import { type PeftModel, getPeftModel, loraConfig } from '@lora/peft';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainBatch } from './batch.js';
import { peftWeightsIO } from './checkpoints/peft-weights-io.js';
import { train } from './train.js';

const assets = process.env.LORA_ASSETS_DIR;
const skipReason = 'skipped: LORA_ASSETS_DIR is unset (point it at ../shared to run)';
if (assets === undefined) console.warn(`[lora train] ${skipReason}`);

/** Fixed token batches of stories260K's vocabulary (512), BOS first, the first 4 labels masked. */
function batches(count: number, rows: number, length: number): TrainBatch[] {
  const rng = new Rng(5);
  return Array.from({ length: count }, () => {
    const inputIds = new Int32Array(rows * length).map((_, i) => (i % length === 0 ? 1 : 3 + rng.nextInt(509)));
    const labels = inputIds.map((id, i) => (i % length < 4 ? -100 : id));
    return { inputIds, labels, shape: [rows, length] as [number, number] };
  });
}

async function peftStories(extra: Parameters<typeof loraConfig>[0] = {}): Promise<PeftModel> {
  const { model } = await loadModel(join(assets as string, 'models/stories260K'));
  return getPeftModel(model, loraConfig({ r: 8, loraAlpha: 16, targetModules: 'all-linear', loraDropout: 0, ...extra }));
}

let dir: string;
beforeAll(async () => {
  await setupTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'lora-train-peft-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(assets === undefined)(`LoRA on stories260K${assets === undefined ? ` (${skipReason})` : ''}`, () => {
  it('lowers the loss in a few steps and checkpoints the adapter in PEFT format', async () => {
    const peft = await peftStories();
    const out = join(dir, 'lora');
    const result = await train({
      model: peft,
      data: batches(1, 4, 64),
      args: { maxSteps: 8, learningRate: 1e-2, lrScheduler: 'constant', saveSteps: 4 },
      outputDir: out,
      weightsIO: peftWeightsIO(peft),
    });
    console.log(`LoRA stories260K losses: ${result.losses.map((l) => l.toFixed(4)).join(' ')}`);
    expect(result.losses[7]).toBeLessThan((result.losses[0] as number) - 0.3);
    expect((await readdir(join(out, 'checkpoint-8'))).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
      'optimizer.safetensors',
      'trainer_state.json',
    ]);
    peft.dispose();
  });

  it.each([
    ['LoRA', {}],
    ['LoRA + trainable token rows', { trainableTokenIndices: [98, 126, 504, 505] }],
  ] as const)('resumes a %s run bit for bit', async (name, extra) => {
    const data = batches(3, 2, 32);
    const args = { maxSteps: 4, learningRate: 5e-3, lrScheduler: 'linear' as const, weightDecay: 0.01, optimizer: 'adamw8bit' as const };
    const a = await peftStories(extra as never);
    const full = await train({ model: a, data, args, outputDir: join(dir, `full-${name}`), weightsIO: peftWeightsIO(a) });
    a.dispose();
    const out = join(dir, `resumed-${name}`);
    const b = await peftStories(extra as never);
    await train({ model: b, data, args, outputDir: out, weightsIO: peftWeightsIO(b), callbacks: { onStepEnd: (r) => r.step < 2 } });
    b.dispose();
    const c = await peftStories(extra as never);
    const resumed = await train({ model: c, data, args, outputDir: out, weightsIO: peftWeightsIO(c), resume: true });
    c.dispose();
    expect(resumed.losses).toEqual(full.losses);
  });
});

describe('LoRA with trained biases, embed_tokens and lm_head (tiny fixture with biases)', () => {
  const base = join(import.meta.dirname, '../../../fixtures/peft/features/tiny-llama-bias');
  const build = async (): Promise<PeftModel> => {
    const { model } = await loadModel(base);
    const config = loraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'embed_tokens', 'lm_head'], bias: 'all' });
    return getPeftModel(model, config, { onWarning: () => {} });
  };
  const data = Array.from({ length: 3 }, (_, k): TrainBatch => {
    const inputIds = new Int32Array(2 * 16).map((_, i) => (i % 16 === 0 ? 1 : 3 + ((i * 7 + k * 13) % 60)));
    return { inputIds, labels: inputIds, shape: [2, 16] };
  });
  const args = { maxSteps: 4, learningRate: 1e-2, lrScheduler: 'linear' as const, weightDecay: 0.01 };

  it('lowers the loss and resumes bit for bit (biases and the embedding adapter are checkpointed)', async () => {
    const a = await build();
    const full = await train({ model: a, data, args, outputDir: join(dir, 'features-full'), weightsIO: peftWeightsIO(a) });
    a.dispose();
    expect(full.losses[3]).toBeLessThan(full.losses[0] as number);
    const out = join(dir, 'features-resumed');
    const b = await build();
    await train({ model: b, data, args, outputDir: out, weightsIO: peftWeightsIO(b), callbacks: { onStepEnd: (r) => r.step < 2 } });
    b.dispose();
    const c = await build();
    const resumed = await train({ model: c, data, args, outputDir: out, weightsIO: peftWeightsIO(c), resume: true });
    c.dispose();
    expect(resumed.losses).toEqual(full.losses);
  });
});
