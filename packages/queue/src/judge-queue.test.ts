import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BudgetExceededError, createJudgeModel, JudgeClient } from '@lora/judge';
import { Queue } from 'bullmq';
import { type JudgeServer, startJudgeServer } from '@lora/judge/test';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { redisConnection } from './connection.js';
import { JUDGE_QUEUE, queuedJudgeModel, runJudgeWorker } from './judge-queue.js';
import { REDIS_SERVER, type TestRedis, startRedis } from './test/redis-server.js';

// Judge calls through BullMQ on a real loopback redis-server, to a real loopback HTTP judge server.
if (REDIS_SERVER === undefined) console.warn('SKIPPED judge queue tests: /usr/bin/redis-server is missing (apt-get install redis-server).');
const KEY = 'sk-queue-secret-7f3a9c';
const Verdict = z.object({ reason: z.string(), score: z.number() });
const request = (i: number) => ({
  messages: [
    { role: 'system' as const, content: 'You grade answers on a rubric.' },
    { role: 'user' as const, content: `[Answer to score]\nanswer ${i} [score=${i}]\n[End of answer]` },
  ],
  responseFormat: { name: 'verdict', schema: Verdict },
});

/** Every key and value in Redis, as text. */
async function dump(db: Redis): Promise<string> {
  const parts: string[] = [];
  for (const key of await db.keys('*')) {
    parts.push(key);
    const type = await db.type(key);
    if (type === 'string') parts.push((await db.get(key)) ?? '');
    else if (type === 'hash') parts.push(JSON.stringify(await db.hgetall(key)));
    else if (type === 'list') parts.push(...(await db.lrange(key, 0, -1)));
    else if (type === 'set') parts.push(...(await db.smembers(key)));
    else if (type === 'zset') parts.push(...(await db.zrange(key, 0, -1)));
    else if (type === 'stream') parts.push(JSON.stringify(await db.xrange(key, '-', '+')));
    else parts.push(`<${type}>`);
  }
  return parts.join('\n');
}

describe.skipIf(REDIS_SERVER === undefined)('judge calls through the queue (BullMQ)', () => {
  let redis: TestRedis;
  let server: JudgeServer;
  const dir = mkdtempSync(join(tmpdir(), 'lora-judge-queue-'));
  beforeAll(async () => {
    redis = await startRedis();
    server = await startJudgeServer({ protocol: 'openai', apiKey: KEY, delayMs: 50 });
  });
  afterAll(async () => {
    await server?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('2 workers share one budget and one rate limit; the cache pays nothing twice; no API key reaches Redis', async () => {
    const stop = new AbortController();
    const calls = { w1: 0, w2: 0 };
    const rateLimit = { max: 2, durationMs: 1000 };
    const workers = (['w1', 'w2'] as const).map((name) =>
      runJudgeWorker({
        url: redis.url,
        name,
        env: { OPENAI_API_KEY: KEY },
        concurrency: 2,
        rateLimit,
        signal: stop.signal,
        onCall: () => calls[name]++,
      }),
    );
    const target = { provider: 'openai-compatible' as const, model: 'judge-model', baseUrl: `${server.url}/v1` };
    const model = queuedJudgeModel(redis.url, target);
    const db = new Redis(redis.url);
    try {
      // The coordinator holds no key; the budget (5 calls) covers every worker's calls.
      const client = new JudgeClient(model, { cacheDir: join(dir, 'cache'), maxCalls: 5, concurrency: 4 });
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => client.completeJson(request(i))));
      const answered = results.filter((r) => r.status === 'fulfilled');
      expect(answered).toHaveLength(5);
      for (const r of results) if (r.status === 'rejected') expect(BudgetExceededError.isInstance(r.reason)).toBe(true);
      expect(server.requests).toHaveLength(5);
      // Which worker takes which job is up to BullMQ's scheduling (one may take all 5 on a busy
      // machine); that the work is spread is the next test's.
      expect(calls.w1 + calls.w2).toBe(5);
      // Each request carried the workers' key; answers are the judge's.
      for (const r of server.requests) expect(r.headers.authorization).toBe(`Bearer ${KEY}`);
      const scores = answered.map((r) => (r as PromiseFulfilledResult<{ value: { score: number } }>).value.value.score).sort();
      expect(scores.every((s) => s >= 0 && s < 8)).toBe(true);
      // One rate limit for both workers: at most 2 call starts per second, so the 5 calls span
      // 2 windows. Arrival times at the server carry each worker's scheduling jitter (tens to
      // hundreds of ms on a loaded machine), so the bounds keep a margin; without the shared
      // limit the 4 concurrent slots would send all 5 within ~100 ms.
      const at = server.requests.map((r) => r.at).sort((a, b) => a - b);
      for (let i = 2; i < at.length; i++) expect((at[i] as number) - (at[i - 2] as number)).toBeGreaterThanOrEqual(500);
      expect((at[4] as number) - (at[0] as number)).toBeGreaterThanOrEqual(1500);
      // A second coordinator on the same cache: the 5 answered requests are served from disk, unpaid.
      const again = new JudgeClient(model, { cacheDir: join(dir, 'cache'), maxCalls: 0 });
      const fulfilledIds = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      for (const i of fulfilledIds) expect((await again.completeJson(request(i))).cached).toBe(true);
      expect(server.requests).toHaveLength(5);
      expect(again.stats().callsMade).toBe(0);
      // The key is nowhere in Redis (job data, results, events).
      const text = await dump(db);
      expect(text).toContain('judge-model'); // the scan did see the jobs
      expect(text).not.toContain(KEY);
    } finally {
      stop.abort();
      await Promise.all(workers);
      await model.close();
      db.disconnect();
    }
  });
  it('spreads the calls over the workers: 2 workers of concurrency 1 answer 2 calls that only finish together', async () => {
    const stop = new AbortController();
    const calls = { a: 0, b: 0 };
    // A barrier in front of the real provider: a call goes on only once 2 calls are in flight (or
    // after 20 s, so a broken queue fails the assertions below instead of hanging). With
    // concurrency 1, a worker holds one call at a time, so 2 calls in flight means 2 workers.
    let entered = 0;
    let release!: () => void;
    const together = new Promise<void>((resolve) => {
      release = resolve;
    });
    const timeout = setTimeout(() => release(), 20_000);
    const workers = (['a', 'b'] as const).map((name) =>
      runJudgeWorker({
        url: redis.url,
        name,
        env: { OPENAI_API_KEY: KEY },
        concurrency: 1,
        createModel: (t, env) => {
          const real = createJudgeModel({
            provider: 'openai-compatible',
            model: t.model,
            baseUrl: t.baseUrl as string,
            apiKey: env.OPENAI_API_KEY as string,
          });
          return {
            provider: real.provider,
            modelId: real.modelId,
            complete: async (req, options) => {
              calls[name]++;
              if (++entered === 2) release();
              await together;
              return real.complete(req, options);
            },
          };
        },
        signal: stop.signal,
      }),
    );
    const target = { provider: 'openai-compatible' as const, model: 'judge-model-2', baseUrl: `${server.url}/v1` };
    const model = queuedJudgeModel(redis.url, target);
    const queue = new Queue(JUDGE_QUEUE, { connection: redisConnection(redis.url) });
    try {
      // Both workers are listening before the jobs are added.
      for (let i = 0; i < 200 && (await queue.getWorkersCount()) < 2; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await queue.getWorkersCount()).toBeGreaterThanOrEqual(2);
      const client = new JudgeClient(model, { cacheDir: join(dir, 'cache-spread'), concurrency: 2 });
      const t0 = Date.now();
      const results = await Promise.all([0, 1].map((i) => client.completeJson(request(100 + i))));
      expect(results.map((r) => r.value)).toHaveLength(2);
      expect(calls).toEqual({ a: 1, b: 1 });
      // The barrier opened because both calls were in flight, not by its timeout.
      expect(Date.now() - t0).toBeLessThan(20_000);
    } finally {
      clearTimeout(timeout);
      stop.abort();
      await Promise.all(workers);
      await model.close();
      await queue.close();
    }
  }, 60_000);
});
