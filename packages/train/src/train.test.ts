import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from '@lora/models';
import { setupTestBackend } from '@lora/models/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainBatch } from './batch.js';
import { NonFiniteError } from './errors/non-finite-error.js';
import { train } from './train.js';
import { randomBatches, tinyTrainableModel } from './test/tiny.js';
import { namedParameters } from './parameters.js';

let dir: string;
beforeAll(async () => {
  await setupTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'lora-train-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function snapshot(model: CausalLM): Promise<Map<string, Float32Array>> {
  const entries = [...namedParameters(model)];
  const values = await Promise.all(entries.map(([, v]) => v.data() as Promise<Float32Array>));
  return new Map(entries.map(([k], i) => [k, values[i] as Float32Array]));
}

describe('train (full fine-tuning of a tiny random Llama)', () => {
  it('lowers the loss on a fixed batch and keeps tf.memory().numTensors stable', async () => {
    const model = await tinyTrainableModel();
    const batch = randomBatches(1, 2, 16);
    const counts: number[] = [];
    const result = await train({
      model,
      data: batch,
      args: { maxSteps: 12, learningRate: 3e-3, lrScheduler: 'constant' },
      callbacks: { onStepEnd: () => void counts.push(tf.memory().numTensors) },
    });
    expect(result.losses).toHaveLength(12);
    expect(result.losses[11]).toBeLessThan((result.losses[0] as number) * 0.7);
    // Optimizer slots appear at step 1; from then on nothing grows.
    expect(new Set(counts.slice(1)).size).toBe(1);
    model.dispose();
  });

  it('accumulating 2 micro-batches equals one batch of twice the size', async () => {
    const [a, b] = randomBatches(2, 2, 12, 64, 7) as [TrainBatch, TrainBatch];
    const joined: TrainBatch = {
      inputIds: Int32Array.from([...a.inputIds, ...b.inputIds]),
      labels: Int32Array.from([...a.labels, ...b.labels]),
      attentionMask: Uint8Array.from([...(a.attentionMask ?? []), ...(b.attentionMask ?? [])]),
      shape: [4, 12],
    };
    // SGD at lr 1 without clipping: the update is exactly −gradient.
    const args = {
      maxSteps: 1,
      learningRate: 1,
      optimizer: 'sgd' as const,
      lrScheduler: 'constant' as const,
      maxGradNorm: 0,
      shuffle: false,
    };
    const m1 = await tinyTrainableModel();
    const before = await snapshot(m1);
    const r1 = await train({ model: m1, data: [a, b], args: { ...args, gradientAccumulationSteps: 2 } });
    const m2 = await tinyTrainableModel();
    const r2 = await train({ model: m2, data: [joined], args });
    expect(Math.abs((r1.losses[0] as number) - (r2.losses[0] as number))).toBeLessThan(1e-5);
    const after1 = await snapshot(m1);
    const after2 = await snapshot(m2);
    let worst = 0;
    for (const [key, p0] of before) {
      const g1 = after1.get(key) as Float32Array;
      const g2 = after2.get(key) as Float32Array;
      for (let i = 0; i < p0.length; i++) worst = Math.max(worst, Math.abs((g1[i] as number) - (g2[i] as number)));
    }
    expect(worst).toBeLessThan(1e-5);
    m1.dispose();
    m2.dispose();
  });

  it('resumes from a checkpoint with the uninterrupted loss trajectory, bit for bit', async () => {
    const data = randomBatches(5, 2, 12, 64, 3);
    const args = {
      maxSteps: 6,
      learningRate: 5e-3,
      lrScheduler: 'cosine' as const,
      warmup: 2,
      gradientAccumulationSteps: 2,
      weightDecay: 0.1,
      maxGradNorm: 0.5,
      saveSteps: 2,
    };
    const full = await tinyTrainableModel();
    const uninterrupted = await train({ model: full, data, args, outputDir: join(dir, 'full') });
    full.dispose();

    const out = join(dir, 'interrupted');
    const first = await tinyTrainableModel();
    const part1 = await train({ model: first, data, args, outputDir: out, callbacks: { onStepEnd: (r) => r.step < 3 } });
    first.dispose();
    expect(part1.stopReason).toBe('callback');
    expect(part1.step).toBe(3);
    expect((await readFile(join(out, 'latest'), 'utf8')).trim()).toBe('checkpoint-3');

    const second = await tinyTrainableModel({}); // fresh weights: everything comes from the checkpoint
    const part2 = await train({ model: second, data, args, outputDir: out, resume: true });
    second.dispose();
    expect(part2.losses).toEqual(uninterrupted.losses);
    console.log(`resume check: losses of 6 steps vs 3 + resume 3 identical: ${JSON.stringify(part2.losses)}`);
    // saveTotalLimit 2 keeps the newest two step checkpoints.
    expect((await readdir(out)).filter((n) => n.startsWith('checkpoint-')).sort()).toEqual(['checkpoint-4', 'checkpoint-6']);
  });

  it('evaluates, keeps the best checkpoint and stops early', async () => {
    const model = await tinyTrainableModel();
    const data = randomBatches(2, 2, 12);
    const evalData = randomBatches(1, 2, 12, 64, 9);
    const out = join(dir, 'early');
    const seen: number[] = [];
    const result = await train({
      model,
      data,
      evalData,
      evaluate: (_m, step) => ({ custom: step }),
      args: { maxSteps: 10, learningRate: 1e-30, evalSteps: 1, earlyStoppingPatience: 2, saveTotalLimit: 1, saveSteps: 1 },
      outputDir: out,
      callbacks: { onEvaluate: (r) => void seen.push(r.metrics.eval_loss as number) },
    });
    // lr 1e-30 (0 is refused): every update rounds away, so the eval loss never improves after the first evaluation.
    expect(result.stopReason).toBe('early_stopping');
    expect(result.step).toBe(3);
    expect(seen).toHaveLength(3);
    expect(result.lastEval?.custom).toBe(3);
    expect(result.best?.step).toBe(1);
    expect((await readdir(out)).filter((n) => n.startsWith('checkpoint-')).sort()).toEqual(['checkpoint-1', 'checkpoint-3']);
    model.dispose();
  });

  it('refuses input ids outside the vocabulary, naming the step, row and position', async () => {
    const model = await tinyTrainableModel();
    const [good, bad] = randomBatches(2, 2, 12) as [TrainBatch, TrainBatch];
    const ids = Int32Array.from(bad.inputIds);
    ids[12 + 5] = model.config.vocabSize;
    const poisoned: TrainBatch = { ...bad, inputIds: ids };
    const error = await train({ model, data: [good, poisoned], args: { maxSteps: 3 } }).catch((e: unknown) => e);
    expect((error as Error).message).toContain(
      `micro-batch of step 2: input id ${model.config.vocabSize} at row 1, position 5 is outside the model's vocabulary [0, ${model.config.vocabSize})`,
    );
    model.dispose();
  });

  it('stops on a NaN loss naming the step and the checkpoint, or skips the step', async () => {
    const data = randomBatches(2, 2, 12);
    const poison = (model: CausalLM, atStep: number): CausalLM => {
      let calls = 0;
      const forward = model.forward.bind(model);
      model.forward = (ids, opts) => {
        calls++;
        const logits = forward(ids, opts);
        if (calls !== atStep) return logits;
        return tf.tidy(() => tf.mul(logits, Number.NaN) as tf.Tensor3D);
      };
      return model;
    };
    const out = join(dir, 'nan');
    const m1 = poison(await tinyTrainableModel(), 3);
    const error = await train({ model: m1, data, args: { maxSteps: 5, saveSteps: 2 }, outputDir: out }).catch((e: unknown) => e);
    expect(NonFiniteError.isInstance(error)).toBe(true);
    expect((error as NonFiniteError).step).toBe(3);
    expect(String((error as Error).message)).toMatch(/step 3: the loss is not finite.*checkpoint-2/);
    expect((await readdir(out)).filter((n) => n.startsWith('checkpoint-'))).toEqual(['checkpoint-2']);
    m1.dispose();

    const m2 = poison(await tinyTrainableModel(), 2);
    const skipped: boolean[] = [];
    const result = await train({
      model: m2,
      data,
      args: { maxSteps: 4, onNonFinite: 'skip' },
      callbacks: { onStepEnd: (r) => void skipped.push(r.skipped) },
    });
    expect(skipped).toEqual([false, true, false, false]);
    expect(Number.isNaN(result.losses[1])).toBe(true);
    expect(Number.isFinite(result.losses[3])).toBe(true);
    m2.dispose();
  });
});
