import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupTestBackend } from '@lora/models/test';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, acquireRunLock } from './checkpoints/run-folder.js';
import { RunFolderError } from './errors/run-folder-error.js';
import { jsonlLogger } from './reporting/jsonl-log.js';
import { train } from './train.js';
import { randomBatches, tinyTrainableModel } from './test/tiny.js';

let dir = '';
beforeAll(async () => {
  await setupTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'lora-run-folder-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const checkpoints = async (out: string) =>
  (await readdir(out)).filter((n) => n.startsWith('checkpoint-')).sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));

describe('an output folder that holds a run', () => {
  it('is refused without resume, naming the folder, and left as it was; overwrite clears it first', async () => {
    const out = join(dir, 'refuse');
    const data = randomBatches(2, 2, 12);
    const first = await tinyTrainableModel();
    await train({ model: first, data, args: { maxSteps: 4, saveSteps: 2 }, outputDir: out });
    first.dispose();
    expect(await checkpoints(out)).toEqual(['checkpoint-2', 'checkpoint-4']);

    const second = await tinyTrainableModel();
    const error = await train({ model: second, data, args: { maxSteps: 1 }, outputDir: out }).catch((e: unknown) => e);
    expect(RunFolderError.isInstance(error)).toBe(true);
    expect((error as RunFolderError).reason).toBe('has-run');
    expect((error as Error).message).toContain(out);
    expect((error as Error).message).toMatch(/--resume.*--overwrite/);
    expect(await checkpoints(out)).toEqual(['checkpoint-2', 'checkpoint-4']);
    expect((await readFile(join(out, 'latest'), 'utf8')).trim()).toBe('checkpoint-4');

    const result = await train({ model: second, data, args: { maxSteps: 1 }, outputDir: out, overwrite: true });
    expect(result.step).toBe(1);
    expect(await checkpoints(out)).toEqual(['checkpoint-1']);
    expect((await readdir(out)).includes(LOCK_FILE)).toBe(false);
    second.dispose();
  });
});

describe('the output folder lock', () => {
  it('refuses a second holder naming its pid, takes over a dead pid, and refuses another host', async () => {
    const out = join(dir, 'lock');
    const release = await acquireRunLock(out);
    const error = await acquireRunLock(out).catch((e: unknown) => e);
    expect(RunFolderError.isInstance(error)).toBe(true);
    expect((error as RunFolderError).reason).toBe('locked');
    expect((error as Error).message).toContain(`pid ${process.pid}`);
    const model = await tinyTrainableModel();
    const busy = await train({ model, data: randomBatches(1, 2, 12), args: { maxSteps: 1 }, outputDir: out }).catch((e: unknown) => e);
    expect((busy as RunFolderError).reason).toBe('locked');
    model.dispose();
    await release();
    expect((await readdir(out)).includes(LOCK_FILE)).toBe(false);

    // A lock left by a process that is gone is stale.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    await writeFile(join(out, LOCK_FILE), JSON.stringify({ pid: Number(dead.stdout), hostname: hostname(), started: 'then' }));
    const again = await acquireRunLock(out);
    expect(JSON.parse(await readFile(join(out, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await again();

    // Another host's lock cannot be checked: refused, with the way out.
    await writeFile(join(out, LOCK_FILE), JSON.stringify({ pid: 4242, hostname: 'elsewhere', started: 'then' }));
    const remote = await acquireRunLock(out).catch((e: unknown) => e);
    expect((remote as Error).message).toMatch(/pid 4242 on elsewhere.*delete the lock file/);
  });
});

describe('resume', () => {
  it('a resume that finds no checkpoint fails naming the folder and undoes its set-up (optimizer freed, gradient checkpointing off)', async () => {
    const out = join(dir, 'empty-resume');
    await mkdir(out, { recursive: true });
    const model = await tinyTrainableModel();
    const layer = (model as unknown as { layers: { apply: unknown }[] }).layers[0];
    const apply = layer?.apply;
    const tensors = tf.memory().numTensors;
    const error = await train({
      model,
      data: randomBatches(2, 2, 12),
      args: { maxSteps: 2, gradientCheckpointing: true },
      outputDir: out,
      resume: true,
    }).catch((e: unknown) => e);
    expect((error as Error).message).toContain(out);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(layer?.apply).toBe(apply);
    model.dispose();
  });

  it('keeps the checkpoint of the best evaluation when resuming from it (saveTotalLimit)', async () => {
    const out = join(dir, 'best');
    const data = randomBatches(2, 2, 12);
    const evalData = randomBatches(1, 2, 12, 64, 9);
    // A threshold no later evaluation can beat: the first one stays the best.
    const args = { evalSteps: 1, saveSteps: 1, saveTotalLimit: 1, earlyStoppingThreshold: 1e9 };
    const a = await tinyTrainableModel();
    await train({ model: a, data, evalData, args: { ...args, maxSteps: 1 }, outputDir: out });
    a.dispose();
    const state = JSON.parse(await readFile(join(out, 'checkpoint-1', 'trainer_state.json'), 'utf8'));
    expect(state.best).toMatchObject({ step: 1, checkpoint: join(out, 'checkpoint-1') });

    const b = await tinyTrainableModel();
    const result = await train({ model: b, data, evalData, args: { ...args, maxSteps: 4 }, outputDir: out, resume: true });
    b.dispose();
    expect(result.best).toMatchObject({ step: 1 });
    expect(await checkpoints(out)).toEqual(['checkpoint-1', 'checkpoint-4']);
  });

  it('drops the log records after the checkpoint it resumes from, and the temporary folders of a kill', async () => {
    const out = join(dir, 'log');
    const log = join(dir, 'log.jsonl');
    const data = randomBatches(2, 2, 12);
    const a = await tinyTrainableModel();
    await train({ model: a, data, args: { maxSteps: 3, saveSteps: 2 }, outputDir: out, callbacks: jsonlLogger(log) });
    a.dispose();
    // As if killed after step 3 before its checkpoint landed: checkpoint-2 is the latest, a
    // half-written temporary folder and a torn log line remain.
    await rm(join(out, 'checkpoint-3'), { recursive: true });
    await writeFile(join(out, 'latest'), 'checkpoint-2\n');
    await mkdir(join(out, '.tmp-checkpoint-3-999-1'));
    await writeFile(log, `${await readFile(log, 'utf8')}{"type":"step","st`);

    const b = await tinyTrainableModel();
    const result = await train({
      model: b,
      data,
      args: { maxSteps: 4, saveSteps: 2 },
      outputDir: out,
      resume: true,
      callbacks: jsonlLogger(log),
    });
    b.dispose();
    expect(result.step).toBe(4);
    const records = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; step?: number });
    expect(records.filter((r) => r.type === 'step').map((r) => r.step)).toEqual([1, 2, 3, 4]);
    expect((await readdir(out)).filter((n) => n.startsWith('.tmp'))).toEqual([]);
  });
});
