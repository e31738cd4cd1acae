import { mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setupTestBackend } from '@lora/models/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointWriteError } from '../errors/checkpoint-write-error.js';
import { AdamW8bit } from '../optimizers/adamw-8bit.js';
import { findLatestCheckpoint, readCheckpoint, readTrainerState, safetensorsWeightsIO, writeCheckpoint } from './checkpoint-io.js';

let dir: string;
beforeAll(async () => {
  await setupTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'lora-ckpt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const state = (step: number) => ({
  step,
  rng: [1, 2, 3, 4] as [number, number, number, number],
  cursor: { epoch: 0, position: 1, order: [1, 0] },
  args: {},
  badEvaluations: 0,
  losses: [],
  lrs: [],
  evals: [],
});

describe('checkpoint folders', () => {
  it('round-trips weights and 8-bit optimizer state under stable names', async () => {
    const w = tf.variable(tf.randomNormal([80, 64]), true, 'tfjs-name-1');
    const params = new Map([['model.layers.0.mlp.up_proj.weight', w]]);
    const optimizer = new AdamW8bit([w]);
    const ones = tf.onesLike(w);
    await optimizer.applyGradients({ [w.name]: ones }, 1e-2);
    ones.dispose();
    const path = await writeCheckpoint(dir, { weights: safetensorsWeightsIO(params), params, optimizer, state: state(1) });
    expect((await readdir(path)).sort()).toEqual(['optimizer.safetensors', 'trainable.safetensors', 'trainer_state.json']);

    // Another "process": other tfjs names, other values.
    const w2 = tf.variable(tf.zeros([80, 64]), true, 'tfjs-name-2');
    const params2 = new Map([['model.layers.0.mlp.up_proj.weight', w2]]);
    const optimizer2 = new AdamW8bit([w2]);
    const restored = await readCheckpoint(path, safetensorsWeightsIO(params2), params2, optimizer2);
    expect(restored.step).toBe(1);
    expect(Array.from(await w2.data())).toEqual(Array.from(await w.data()));
    const s1 = (await optimizer.getState()).tensors;
    const s2 = (await optimizer2.getState()).tensors;
    expect(s2[`${w2.name}.state1`]).toEqual(s1[`${w.name}.state1`]);
    expect(s2[`${w2.name}.absmax2`]).toEqual(s1[`${w.name}.absmax2`]);
    tf.dispose([w, w2]);
  });

  it('leaves the previous checkpoint and no temp folder when a write fails; rejects newer formats', async () => {
    const out = join(dir, 'atomic');
    const w = tf.variable(tf.ones([2, 2]), true, 'atomic-w');
    const params = new Map([['w', w]]);
    const optimizer = new AdamW8bit([w]);
    await writeCheckpoint(out, { weights: safetensorsWeightsIO(params), params, optimizer, state: state(1) });
    const failing = { save: async () => Promise.reject(new Error('disk full')), load: async () => undefined };
    await expect(writeCheckpoint(out, { weights: failing, params, optimizer, state: state(2) })).rejects.toThrow('disk full');
    expect((await readdir(out)).sort()).toEqual(['checkpoint-1', 'latest']);
    expect(await findLatestCheckpoint(out)).toBe(join(out, 'checkpoint-1'));
    const file = join(out, 'checkpoint-1', 'trainer_state.json');
    const json = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...json, formatVersion: 99 }));
    await expect(readTrainerState(join(out, 'checkpoint-1'))).rejects.toThrow(/formatVersion.*Upgrade @lora\/train/);
    w.dispose();
  });

  it('turns ENOSPC into a CheckpointWriteError naming the file and the intact checkpoint', async () => {
    const out = join(dir, 'full');
    const w = tf.variable(tf.ones([2, 2]), true, 'full-w');
    const params = new Map([['w', w]]);
    const optimizer = new AdamW8bit([w]);
    await writeCheckpoint(out, { weights: safetensorsWeightsIO(params), params, optimizer, state: state(1) });
    // /dev/full answers every write with a real ENOSPC from the kernel; a write through a file
    // handle (as safetensors are written) carries no path, so the checkpoint's is named.
    const full = {
      save: async () => {
        const handle = await open('/dev/full', 'w');
        try {
          await handle.write(new Uint8Array(64));
        } finally {
          await handle.close();
        }
      },
      load: async () => undefined,
    };
    const error = await writeCheckpoint(out, { weights: full, params, optimizer, state: state(2) }).catch((e: unknown) => e);
    expect(CheckpointWriteError.isInstance(error)).toBe(true);
    const e = error as CheckpointWriteError;
    expect(e).toMatchObject({
      step: 2,
      code: 'ENOSPC',
      path: `${join(out, 'checkpoint-2')} (weights)`,
      resumeFrom: join(out, 'checkpoint-1'),
    });
    expect(e.message).toBe(
      `cannot write the checkpoint of step 2: no space left on the device (ENOSPC) while writing ${join(out, 'checkpoint-2')} (weights). The checkpoint ${join(out, 'checkpoint-1')} is intact: free space (or lower \`saveTotalLimit\`) and resume from it.`,
    );
    expect((await readdir(out)).sort()).toEqual(['checkpoint-1', 'latest']);
    // An output folder under a file: ENOTDIR, named, with no checkpoint to resume from.
    const blocked = join(dir, 'a-file');
    await writeFile(blocked, 'x');
    const notDir = await writeCheckpoint(join(blocked, 'out'), {
      weights: safetensorsWeightsIO(params),
      params,
      optimizer,
      state: state(3),
    }).catch((x: unknown) => x);
    expect(CheckpointWriteError.isInstance(notDir)).toBe(true);
    expect((notDir as Error).message).toMatch(
      /step 3: a parent of the output folder is not a folder \(ENOTDIR\) while writing .*a-file\/out\. No earlier checkpoint exists/,
    );
    w.dispose();
  });
});
