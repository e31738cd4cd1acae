import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupTestBackend } from '@lora/models/test';
import { describe, expect, it } from 'vitest';
import { train } from './train.js';
import { randomBatches, tinyTrainableModel } from './test/tiny.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const viteNode = join(
  dirname(createRequire(createRequire(join(root, 'package.json')).resolve('vitest/package.json')).resolve('vite-node/package.json')),
  'vite-node.mjs',
);

describe('SIGTERM / SIGINT', () => {
  for (const signal of ['SIGTERM'] as const) {
    it(`${signal} to a training child process saves a checkpoint, then it exits`, async () => {
      const out = await mkdtemp(join(tmpdir(), 'lora-signal-'));
      const child = spawn(
        process.execPath,
        [viteNode, '--config', join(root, 'vitest.config.ts'), join(root, 'packages/train/src/test/signal-child.ts'), out],
        {
          cwd: root,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      let sent = false;
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const code = await new Promise<number | null>((resolve) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (!sent && /step 3\n/.test(stdout)) {
            sent = true;
            child.kill(signal);
          }
        });
        child.on('exit', (c) => resolve(c));
      });
      expect(sent, `child never reached step 3:\n${stdout}\n${stderr}`).toBe(true);
      expect(code).toBe(signal === 'SIGTERM' ? 143 : 130);
      const match = /stopped signal at (\d+) -> (.+)\n/.exec(stdout);
      expect(match, stdout + stderr).not.toBeNull();
      const step = Number(match?.[1]);
      expect(step).toBeGreaterThanOrEqual(3);
      const latest = (await readFile(join(out, 'latest'), 'utf8')).trim();
      expect(latest).toBe(`checkpoint-${step}`);
      const state = JSON.parse(await readFile(join(out, latest, 'trainer_state.json'), 'utf8')) as { step: number };
      expect(state.step).toBe(step);
      await rm(out, { recursive: true, force: true });
    });
  }
});

describe('a second signal', () => {
  it('exits at once with 130 while the first one is still saving', async () => {
    const out = await mkdtemp(join(tmpdir(), 'lora-signal-twice-'));
    const child = spawn(
      process.execPath,
      [viteNode, '--config', join(root, 'vitest.config.ts'), join(root, 'packages/train/src/test/signal-child.ts'), out, 'slow-checkpoint'],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    let sent = 0;
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (sent === 0 && /step 2\n/.test(stdout)) {
          sent = 1;
          child.kill('SIGINT');
        }
        if (sent === 1 && /checkpoint \d+\n/.test(stdout)) {
          sent = 2;
          // Later than the echo window of a Ctrl-C delivered twice.
          setTimeout(() => child.kill('SIGINT'), 1200);
        }
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(sent, stdout + stderr).toBe(2);
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('second SIGINT: exiting now');
    expect(stdout).not.toContain('stopped');
    expect(Date.now() - started).toBeLessThan(60_000);
    await rm(out, { recursive: true, force: true });
  });
});

describe('SIGINT in process', () => {
  it('stops after the current step with a checkpoint and removes its listeners', async () => {
    await setupTestBackend();
    const out = await mkdtemp(join(tmpdir(), 'lora-sigint-'));
    const listeners = process.listenerCount('SIGINT');
    const model = await tinyTrainableModel();
    const result = await train({
      model,
      data: randomBatches(2, 2, 12),
      args: { maxSteps: 50 },
      outputDir: out,
      callbacks: { onStepEnd: (r) => void (r.step === 2 && process.emit('SIGINT')) },
    });
    expect(result.stopReason).toBe('signal');
    expect(result.step).toBe(2);
    expect((await readFile(join(out, 'latest'), 'utf8')).trim()).toBe('checkpoint-2');
    expect(process.listenerCount('SIGINT')).toBe(listeners);
    model.dispose();
    await rm(out, { recursive: true, force: true });
  });
});
