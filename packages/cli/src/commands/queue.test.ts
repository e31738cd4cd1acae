import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type JudgeServer, startJudgeServer } from '@lora/judge/test';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../testing.js';
import { REDIS_SERVER, type TestRedis, startRedis } from '@lora/queue/test';
import { type WatchedChild, watchChild } from '../test/watched-child.js';

// `lora eval --queue` + `lora worker` child processes on a real loopback redis-server (stories260K, wasm).
const assets = process.env.LORA_ASSETS_DIR;
const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const viteNode = join(
  dirname(createRequire(createRequire(join(root, 'package.json')).resolve('vitest/package.json')).resolve('vite-node/package.json')),
  'vite-node.mjs',
);
const dir = mkdtempSync(join(tmpdir(), 'lora-queue-cli-'));
const backend = process.env.LORA_TEST_BACKEND ?? 'wasm';
const env = { ...process.env, LORA_ASSETS_DIR: assets, LORA_BACKEND: backend };
if (REDIS_SERVER === undefined)
  console.warn('SKIPPED lora eval --queue tests: /usr/bin/redis-server is missing (apt-get install redis-server).');

type Run = WatchedChild;

function lora(...args: string[]): Run {
  return loraWith(env, ...args);
}

function loraWith(childEnv: NodeJS.ProcessEnv, ...args: string[]): Run {
  const child = spawn(
    process.execPath,
    [viteNode, '--config', join(root, 'vitest.config.ts'), join(root, 'packages/cli/src/test/cli-child.ts'), ...args],
    {
      cwd: root,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return watchChild(child);
}

const stories = [
  ['Tell me about the cat.', 'The cat sat on the mat.'],
  ['What did Tom do?', 'Tom ran to the park.'],
  ['Where is the dog?', 'The dog is in the garden.'],
  ['Who is Lily?', 'Lily is a little girl.'],
  ['What is the sun?', 'The sun is big and hot.'],
  ['Why did Sam cry?', 'Sam lost his toy.'],
];
const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n');
/** Predictions without `latencyMs` (wall time of a batch: differs between any two runs, local ones too). */
const predictions = (out: string, run: string) =>
  lines(join(out, `predictions_${run}.jsonl`)).map((l) => {
    const { latencyMs: _, ...rest } = JSON.parse(l);
    return JSON.stringify(rest);
  });
/** Metrics without `createdAt` and `stats` (time, throughput, memory: they vary between any two runs). */
const metrics = (out: string, run: string) => {
  const { createdAt: _c, stats: _s, ...rest } = JSON.parse(readFileSync(join(out, `metrics_${run}.json`), 'utf8'));
  return JSON.stringify(rest);
};
const RUNTIME = /latency_|tokens_per_second|peak_tensor_bytes/;
const comparison = (out: string, file: string) => lines(join(out, file)).filter((l) => !RUNTIME.test(l));

describe.skipIf(!assets || REDIS_SERVER === undefined)('lora eval --queue with lora workers (BullMQ on redis-server)', () => {
  let redis: TestRedis;
  const recipe = join(dir, 'recipe.yaml');
  const local = join(dir, 'local');

  beforeAll(async () => {
    redis = await startRedis();
    writeFileSync(
      join(dir, 'test.jsonl'),
      `${Array.from({ length: 12 }, (_, i) => {
        const [u, a] = stories[i % stories.length] as [string, string];
        return JSON.stringify({
          id: `q${i}`,
          messages: [
            { role: 'user', content: `${u}${' '.repeat(Math.floor(i / stories.length))}` },
            { role: 'assistant', content: a },
          ],
        });
      }).join('\n')}\n`,
    );
    writeFileSync(
      recipe,
      [
        'name: queue-test',
        'model: stories260K',
        `output: ${join(dir, 'adapter')}`,
        'adapter: { r: 4, loraAlpha: 8, targetModules: all-linear }',
        'data: { train: test.jsonl, chatTemplate: stories, addBos: true, maxLength: 64, batchSize: 2 }',
        'training: { maxSteps: 2, learningRate: 0.01, lrScheduler: constant, seed: 1, saveSteps: 0 }',
        'evaluation: { test: test.jsonl, metrics: [exact_match], maxNewTokens: 32, batchSize: 2 }',
      ].join('\n'),
    );
    const trained = await runCaptured(['train', recipe], env);
    expect(trained.code, trained.stderr).toBe(0);
    // The single-process reference: base + the adapter, 12 examples each.
    const ref = await runCaptured(['eval', recipe, '--out', local], env);
    expect(ref.code, ref.stderr).toBe(0);
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('2 workers, one killed with -9 mid-shard, the coordinator killed and restarted: the merged report equals the local run', async () => {
    const out = join(dir, 'queued');
    const url = redis.url;
    const w1 = lora('worker', '--queue', url, '--name', 'w1', '--lock-ms', '3000');
    const w2 = lora('worker', '--queue', url, '--name', 'w2', '--lock-ms', '3000');
    const db = new Redis(url);
    try {
      const c1 = lora('eval', recipe, '--out', out, '--queue', url, '--shard-size', '2');
      // w1 finished a shard and, with shards waiting, holds the next one: kill it outright now.
      await w1.waitFor(/\[lora\] shard .* predictions/);
      const heldByW1 = async () => {
        for (const id of await db.lrange('bull:lora-eval:active', 0, -1)) {
          const job = await db.hgetall(`bull:lora-eval:${id}`);
          if (job.pb === 'w1') return job;
        }
        return undefined;
      };
      let held: Record<string, string> | undefined;
      for (let i = 0; i < 200 && held === undefined; i++) {
        held = await heldByW1();
        if (held === undefined) await new Promise((r) => setTimeout(r, 25));
      }
      expect(held, 'w1 holds a shard').toBeDefined();
      w1.child.kill('SIGKILL');
      expect((await w1.exit).signal).toBe('SIGKILL');
      // The shard w1 died on: the one still active under its name once it is dead (on a busy
      // machine it may have finished the shard seen above and taken the next one before the kill).
      held = (await heldByW1()) ?? held;
      const shard = JSON.parse(held?.data ?? '{}') as { variant: string; start: number; end: number };
      // The coordinator, killed too once some shards are merged, then restarted: it resumes.
      await c1.waitFor(/queue: \d+\/24 examples, [2-9]\/12 shards/);
      c1.child.kill('SIGKILL');
      await c1.exit;
      const c2 = lora('eval', recipe, '--out', out, '--queue', url, '--shard-size', '2');
      const { code } = await c2.exit;
      expect(code, c2.stderr()).toBe(0);
      expect(c2.stderr()).toMatch(/queue: \d+\/24 examples, \d+\/12 shards, [1-9]\d* resumed/);
      expect(c2.stderr()).toMatch(/24\/24 examples, 12\/12 shards.*\| w2 [\d.]+ ex\/s \(\d+ shards\)/);
      // The shard w1 died on was generated again by w2 (BullMQ's stalled-job check).
      expect(w2.stderr()).toContain(`[lora] shard ${shard.variant} ${shard.start}–${shard.end - 1}:`);
      for (const run of ['base', 'adapter']) {
        const merged = predictions(out, run);
        const ids = merged.map((l) => JSON.parse(l).id as string);
        expect(ids).toEqual(Array.from({ length: 12 }, (_, i) => `q${i}`)); // every id once, in test-set order
        expect(merged).toEqual(predictions(local, run));
        expect(metrics(out, run)).toBe(metrics(local, run));
      }
      expect(comparison(out, 'comparison_table.csv')).toEqual(comparison(local, 'comparison_table.csv'));
      expect(comparison(out, 'comparison_summary.md')).toEqual(comparison(local, 'comparison_summary.md'));
      expect(readFileSync(join(out, 'plots/metrics.svg'), 'utf8')).toBe(readFileSync(join(local, 'plots/metrics.svg'), 'utf8'));
      // The run's jobs are removed once its report is written.
      expect(await db.keys('bull:lora-eval:*-v*-s*')).toEqual([]);
    } finally {
      w1.child.kill('SIGKILL');
      w2.child.kill('SIGTERM');
      await w2.exit;
      db.disconnect();
    }
    expect(w2.stderr()).toContain('[lora] worker stopped');
  });

  it('--shard-size must cut whole batches; a bad --queue URL is named', async () => {
    const odd = await runCaptured(['eval', recipe, '--out', join(dir, 'odd'), '--queue', redis.url, '--shard-size', '3'], env);
    expect(odd.code).not.toBe(0);
    expect(odd.stderr).toContain('--shard-size');
    expect(odd.stderr).toContain('multiple of the evaluation batch size (2)');
    const bad = await runCaptured(['eval', recipe, '--out', join(dir, 'bad'), '--queue', 'http://127.0.0.1:1'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('is not a redis:// URL');
    const stopped = await startRedis();
    await stopped.stop();
    const { port } = stopped; // nothing listens there now
    const down = await runCaptured(['eval', recipe, '--out', join(dir, 'down'), '--queue', `redis://127.0.0.1:${port}`], env);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toContain(`cannot reach Redis at 127.0.0.1:${port}`);
  });
});

describe.skipIf(REDIS_SERVER === undefined)('lora judge --queue with a lora worker', () => {
  const KEY = 'sk-worker-only-5b1e';
  const dir = mkdtempSync(join(tmpdir(), 'lora-queue-judge-cli-'));
  let redis: TestRedis;
  let server: JudgeServer;
  beforeAll(async () => {
    redis = await startRedis();
    server = await startJudgeServer({ protocol: 'openai', apiKey: KEY });
  });
  afterAll(async () => {
    await server?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the worker calls the judge with its own key; the coordinator keeps the cache; the key never reaches Redis', async () => {
    const work = join(dir, 'judge');
    const input = join(dir, 'judge-preds.jsonl');
    writeFileSync(
      input,
      `${[
        { id: '1', prompt: 'Capital of France?', prediction: 'Paris', reference: 'Paris' },
        { id: '2', prompt: 'Capital of France?', prediction: 'Lyon', reference: 'Paris' },
        { id: '3', prompt: 'Capital of France?', prediction: 'Paris, France', reference: 'Paris' },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n')}\n`,
    );
    const { OPENAI_API_KEY: _, ...noKey } = process.env;
    const worker = loraWith(
      { ...noKey, OPENAI_API_KEY: KEY },
      'worker',
      '--queue',
      redis.url,
      '--name',
      'judge-worker',
      '--judge-rpm',
      '600',
    );
    const db = new Redis(redis.url);
    try {
      await worker.waitFor(/waiting for shards/);
      const args = ['judge', 'score', '--input', input, '--mode', 'reference', '--provider', 'openai-compatible', '--model', 'm'];
      const rest = ['--base-url', `${server.url}/v1`, '--queue', redis.url, '--out', join(work, 'out')];
      const coordinatorEnv = { LORA_JUDGE_CACHE_DIR: join(work, 'cache') }; // no key here
      const first = await runCaptured([...args, ...rest], coordinatorEnv);
      expect(first.code, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout)).toMatchObject({ judged: 3 });
      expect(server.requests).toHaveLength(3);
      for (const r of server.requests) expect(r.headers.authorization).toBe(`Bearer ${KEY}`);
      const verdicts = readFileSync(join(work, 'out', 'verdicts.jsonl'), 'utf8');
      expect(verdicts).toContain('"correct"');
      // Rerun: every answer comes from the coordinator's cache, nothing is paid again.
      const again = await runCaptured([...args, ...rest], coordinatorEnv);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain('(0 calls, 3 from cache)');
      expect(server.requests).toHaveLength(3);
      const everything = [];
      for (const key of await db.keys('*')) {
        everything.push(key);
        const type = await db.type(key);
        if (type === 'hash') everything.push(JSON.stringify(await db.hgetall(key)));
        else if (type === 'string') everything.push(await db.get(key));
        else if (type === 'list') everything.push(...(await db.lrange(key, 0, -1)));
        else if (type === 'zset') everything.push(...(await db.zrange(key, 0, -1)));
        else if (type === 'stream') everything.push(JSON.stringify(await db.xrange(key, '-', '+')));
      }
      expect(everything.join('\n')).toContain('lora-judge');
      expect(everything.join('\n')).not.toContain(KEY);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exit;
      db.disconnect();
    }
  });
});
