import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../testing.js';
import { type WatchedChild, watchChild } from '../test/watched-child.js';

// Real signals sent from outside to a training `lora train` process (stories260K, wasm).
const assets = process.env.LORA_ASSETS_DIR;
const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const viteNode = join(
  dirname(createRequire(createRequire(join(root, 'package.json')).resolve('vitest/package.json')).resolve('vite-node/package.json')),
  'vite-node.mjs',
);
const builtCli = join(root, 'packages/cli/dist/bin.js');
const dir = mkdtempSync(join(tmpdir(), 'lora-train-signals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backend = process.env.LORA_TEST_BACKEND ?? 'wasm';
writeFileSync(
  join(dir, 'train.jsonl'),
  [
    ['Tell me about the cat.', 'The cat sat on the mat.'],
    ['What did Tom do?', 'Tom ran to the park.'],
  ]
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
    'name: signals',
    'model: stories260K',
    `backend: ${backend}`,
    'adapter: { r: 4, loraAlpha: 8, targetModules: [q_proj, v_proj] }',
    'data: { train: train.jsonl, chatTemplate: stories, addBos: true, maxLength: 32, batchSize: 2 }',
    'training: { maxSteps: 100000, learningRate: 0.001, lrScheduler: constant, saveSteps: 0, seed: 1 }',
  ].join('\n'),
);
const env = { ...process.env, LORA_ASSETS_DIR: assets, LORA_BACKEND: backend };

type Run = WatchedChild;

function start(command: string, args: string[], options: { detached?: boolean } = {}): Run {
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
  return watchChild(child);
}

const lora = (...args: string[]) =>
  start(process.execPath, [
    viteNode,
    '--config',
    join(root, 'vitest.config.ts'),
    join(root, 'packages/cli/src/test/cli-child.ts'),
    ...args,
  ]);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const steps = (out: string) =>
  readFileSync(join(out, 'train_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.type === 'step')
    .map((r) => r.step as number);

describe.skipIf(!assets)('lora train and signals', () => {
  it('SIGTERM: finishes the step, saves a checkpoint, says how to resume, exits 143; a second run on the folder is refused meanwhile; --resume continues', async () => {
    const out = join(dir, 'term');
    const run = lora('train', recipe, '--output', out);
    await run.waitFor(/step 3\//);
    // A second training on the same folder while the first runs: refused, naming the holder.
    const second = await runCaptured(['train', recipe, '--output', out, '--resume'], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`pid ${run.child.pid}`);
    run.child.kill('SIGTERM');
    const { code } = await run.exit;
    expect(code, run.stderr()).toBe(143);
    const match = /stopped by SIGTERM after step (\d+); checkpoint (\S+)\.\n.*resume with: lora train .* --resume/.exec(run.stderr());
    expect(match, run.stderr()).not.toBeNull();
    const step = Number(match?.[1]);
    expect(existsSync(join(out, 'checkpoints', `checkpoint-${step}`, 'adapter_model.safetensors'))).toBe(true);
    expect(existsSync(join(out, '.lora-train.lock'))).toBe(false);

    // Without --resume the folder is refused, and nothing is touched.
    const again = await runCaptured(['train', recipe, '--output', out, '--max-steps', '2'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(out);
    expect(again.stderr).toMatch(/--resume.*--overwrite/);

    const resumed = await runCaptured(['train', recipe, '--output', out, '--resume', '--max-steps', String(step + 2)], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ steps: step + 2, stopReason: 'max_steps' });
    expect(steps(out)).toEqual(Array.from({ length: step + 2 }, (_, i) => i + 1));

    const overwritten = await runCaptured(['train', recipe, '--output', out, '--overwrite', '--max-steps', '1'], env);
    expect(overwritten.code, overwritten.stderr).toBe(0);
    expect(steps(out)).toEqual([1]);
    expect(existsSync(join(out, 'checkpoints', `checkpoint-${step}`))).toBe(false);
  });

  it('SIGINT: saves a checkpoint and exits 130', async () => {
    const out = join(dir, 'int');
    const run = lora('train', recipe, '--output', out);
    await run.waitFor(/step 2\//);
    run.child.kill('SIGINT');
    const { code } = await run.exit;
    expect(code, run.stderr()).toBe(130);
    const step = Number(/stopped by SIGINT after step (\d+)/.exec(run.stderr())?.[1]);
    expect(step).toBeGreaterThanOrEqual(2);
    expect(readFileSync(join(out, 'checkpoints', 'latest'), 'utf8').trim()).toBe(`checkpoint-${step}`);
  });

  it.skipIf(!existsSync(builtCli))(
    'Ctrl-C under `pnpm lora train` (SIGINT to the process group) saves once, exits 130 and leaves no process behind; SIGTERM to pnpm alone exits 143',
    async () => {
      const out = join(dir, 'pnpm');
      const run = start('pnpm', ['lora', 'train', recipe, '--output', out], { detached: true });
      await run.waitFor(/step 2\//);
      const trainer = JSON.parse(readFileSync(join(out, '.lora-train.lock'), 'utf8')).pid as number;
      process.kill(-(run.child.pid as number), 'SIGINT');
      const { code } = await run.exit;
      expect(code, run.stderr()).toBe(130);
      expect(run.stderr()).toMatch(/stopped by SIGINT after step \d+/);
      expect(run.stderr()).not.toContain('second SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(alive(trainer)).toBe(false);

      // SIGTERM to pnpm alone (a supervisor stopping it): forwarded, saved, 143, nothing left.
      const again = start('pnpm', ['lora', 'train', recipe, '--output', out, '--resume'], { detached: true });
      await again.waitFor(/step \d+\/100000/);
      const resumedTrainer = JSON.parse(readFileSync(join(out, '.lora-train.lock'), 'utf8')).pid as number;
      again.child.kill('SIGTERM');
      const terminated = await again.exit;
      expect(terminated.code, again.stderr()).toBe(143);
      expect(again.stderr()).toMatch(/stopped by SIGTERM after step \d+/);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(alive(resumedTrainer)).toBe(false);
    },
  );
});
