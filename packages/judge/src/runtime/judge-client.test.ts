import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BudgetExceededError } from '../errors/budget-exceeded-error.js';
import { JudgeCallError } from '../errors/judge-call-error.js';
import { pairwiseMessages } from '../prompts/prompts.js';
import { PairwiseVerdictSchema } from '../prompts/schemas.js';
import { createGeminiJudge } from '../providers/gemini.js';
import { createOpenAIJudge } from '../providers/openai.js';
import { startJudgeServer, type JudgeServer } from '../test/judge-server.js';
import { JudgeClient, extractJson } from './judge-client.js';
import { backoffDelay } from './retry.js';

const fast = { initialDelayMs: 5, maxDelayMs: 20 };
const request = (i: number, good: 1 | 2 = 2) => ({
  messages: pairwiseMessages({
    prompt: `question ${i}`,
    response1: good === 1 ? '[good] a' : 'a',
    response2: good === 2 ? '[good] b' : 'b',
  }),
  responseFormat: { name: 'pairwise_verdict', schema: PairwiseVerdictSchema },
});

let server: JudgeServer | undefined;
let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lora-judge-'));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('JudgeClient retries', () => {
  it('survives 429 (honouring Retry-After), 500, a timeout, a malformed body and invalid verdict JSON (OpenAI)', async () => {
    server = await startJudgeServer({
      protocol: 'openai',
      faults: [
        { type: 'status', status: 429, retryAfter: '0.3' },
        { type: 'status', status: 500 },
        { type: 'slow', delayMs: 1500 },
        { type: 'malformed' },
        { type: 'text', text: 'I think response 2 is better.' },
        { type: 'text', text: '{"reason":"x","winner":"response_3"}' },
      ],
    });
    const client = new JudgeClient(createOpenAIJudge({ model: 'gpt-4o-mini', apiKey: 'k', baseURL: `${server.url}/v1`, timeoutMs: 250 }), {
      retry: { ...fast, maxRetries: 6 },
    });
    const started = Date.now();
    const { value, cached } = await client.completeJson(request(1));
    expect(value.winner).toBe('response_2');
    expect(cached).toBe(false);
    expect(server.requests).toHaveLength(7);
    const gap = server.requests[1]!.at - server.requests[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(290); // Retry-After: 0.3 s honoured
    expect(Date.now() - started).toBeLessThan(5000);
    const stats = client.stats();
    expect(stats).toMatchObject({ callsMade: 7, retries: 6, failedRequests: 0 });
    expect(stats.failuresByKind).toEqual({ 'rate-limit': 1, server: 1, timeout: 1, 'invalid-response': 3 });
    // usage is billed for the two answered-but-invalid replies and the good one
    expect(stats.inputTokens).toBe(300);
  });

  it('survives the same faults on Gemini', async () => {
    server = await startJudgeServer({
      protocol: 'gemini',
      faults: [
        { type: 'status', status: 429, retryAfter: '0.2' },
        { type: 'status', status: 503 },
        { type: 'slow', delayMs: 1500 },
        { type: 'malformed' },
        { type: 'text', text: 'not json' },
      ],
    });
    const client = new JudgeClient(createGeminiJudge({ model: 'gemini-2.5-flash', apiKey: 'k', baseUrl: server.url, timeoutMs: 250 }), {
      retry: { ...fast, maxRetries: 6 },
    });
    const { value } = await client.completeJson(request(1, 1));
    expect(value.winner).toBe('response_1');
    expect(server.requests).toHaveLength(6);
    expect(server.requests[1]!.at - server.requests[0]!.at).toBeGreaterThanOrEqual(190);
    expect(client.stats().failuresByKind).toEqual({ 'rate-limit': 1, server: 1, timeout: 1, 'invalid-response': 2 });
  });

  it('gives up after maxRetries with the last error, and never retries a 400', async () => {
    server = await startJudgeServer({
      protocol: 'openai',
      faults: [500, 500, 500].map((status) => ({ type: 'status' as const, status })).concat([{ type: 'status', status: 400 }]),
    });
    const client = new JudgeClient(createOpenAIJudge({ model: 'm', apiKey: 'k', baseURL: `${server.url}/v1` }), {
      retry: { ...fast, maxRetries: 2 },
    });
    const error = await client.completeJson(request(1)).catch((e: unknown) => e);
    expect(JudgeCallError.isInstance(error) && error.status).toBe(500);
    expect(server.requests).toHaveLength(3);
    const error400 = await client.completeJson(request(2)).catch((e: unknown) => e);
    expect(JudgeCallError.isInstance(error400) && error400.kind).toBe('client');
    expect(server.requests).toHaveLength(4);
    expect(client.stats().failedRequests).toBe(2);
  });

  it('backoff grows exponentially within the jitter band and honours Retry-After', () => {
    const opts = { initialDelayMs: 100, factor: 2, maxDelayMs: 1000, jitter: 0.5 };
    expect(backoffDelay(0, undefined, opts, () => 0)).toBe(100);
    expect(backoffDelay(2, undefined, opts, () => 0)).toBe(400);
    expect(backoffDelay(2, undefined, opts, () => 1)).toBe(200);
    expect(backoffDelay(10, undefined, opts, () => 0)).toBe(1000);
    const e = new JudgeCallError({ provider: 'p', kind: 'rate-limit', message: '', retryAfterMs: 5000 });
    expect(backoffDelay(0, e, opts, () => 0)).toBe(5000);
  });
});

describe('JudgeClient cache, limits and budget', () => {
  it('serves a rerun entirely from the on-disk cache (zero calls)', async () => {
    server = await startJudgeServer({ protocol: 'openai' });
    const make = () =>
      new JudgeClient(createOpenAIJudge({ model: 'gpt-4o-mini', apiKey: 'k', baseURL: `${server!.url}/v1` }), {
        cacheDir: join(dir, 'cache'),
      });
    const first = make();
    const a = await Promise.all([0, 1, 2, 3, 4].map((i) => first.completeJson(request(i))));
    expect(server.requests).toHaveLength(5);
    const second = make();
    const b = await Promise.all([0, 1, 2, 3, 4].map((i) => second.completeJson(request(i))));
    expect(server.requests).toHaveLength(5);
    expect(b.map((r) => r.cached)).toEqual([true, true, true, true, true]);
    expect(b.map((r) => r.value)).toEqual(a.map((r) => r.value));
    expect(second.stats()).toMatchObject({ callsMade: 0, callsFromCache: 5, costUsd: 0 });
    // a different model is a different key
    const other = new JudgeClient(createOpenAIJudge({ model: 'gpt-4o', apiKey: 'k', baseURL: `${server.url}/v1` }), {
      cacheDir: join(dir, 'cache'),
    });
    await other.completeJson(request(0));
    expect(server.requests).toHaveLength(6);
    const files = (await readdir(join(dir, 'cache'), { recursive: true })).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(6);
    expect(files.some((f) => f.endsWith('.tmp'))).toBe(false);
  });

  it('never has more calls in flight than the concurrency limit', async () => {
    server = await startJudgeServer({ protocol: 'openai', delayMs: 40 });
    const client = new JudgeClient(createOpenAIJudge({ model: 'm', apiKey: 'k', baseURL: `${server.url}/v1` }), { concurrency: 3 });
    await Promise.all(Array.from({ length: 15 }, (_, i) => client.completeJson(request(i))));
    expect(server.requests).toHaveLength(15);
    expect(server.maxInFlight).toBe(3);
  });

  it('spaces call starts by the requests-per-minute limit', async () => {
    server = await startJudgeServer({ protocol: 'gemini' });
    const client = new JudgeClient(createGeminiJudge({ model: 'g', apiKey: 'k', baseUrl: server.url }), {
      requestsPerMinute: 600,
      concurrency: 8,
    });
    const started = Date.now();
    await Promise.all(Array.from({ length: 5 }, (_, i) => client.completeJson(request(i))));
    // The fifth call may not start before 4 gaps of 100 ms. Measured on the client around the whole
    // batch: a busy machine can only lengthen it (arrival times at the server could bunch up).
    expect(Date.now() - started).toBeGreaterThanOrEqual(399);
    expect(server.requests).toHaveLength(5);
  });

  it('stops issuing calls at maxCalls but still serves cached answers', async () => {
    server = await startJudgeServer({ protocol: 'openai' });
    const cacheDir = join(dir, 'cache');
    const client = new JudgeClient(createOpenAIJudge({ model: 'gpt-4o-mini', apiKey: 'k', baseURL: `${server.url}/v1` }), {
      cacheDir,
      maxCalls: 3,
      concurrency: 1,
    });
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => client.completeJson(request(i))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected']);
    const reason = (results[3] as PromiseRejectedResult).reason as unknown;
    expect(BudgetExceededError.isInstance(reason)).toBe(true);
    expect((reason as Error).message).toMatch(/3 calls.*`maxCalls`/);
    expect(server.requests).toHaveLength(3);
    expect((await client.completeJson(request(1))).cached).toBe(true);
  });

  it('spends a call cap on the requests in the order they were made, whatever order their cache lookups finish in', async () => {
    server = await startJudgeServer({ protocol: 'openai' });
    const cacheDir = join(dir, 'cache');
    const model = () => createOpenAIJudge({ model: 'gpt-4o-mini', apiKey: 'k', baseURL: `${server!.url}/v1` });
    const indexes = Array.from({ length: 30 }, (_, i) => i);
    // i % 3 == 0: a 4 MB malformed entry (a miss whose lookup is slow); 1: a cached answer; 2: a quick miss.
    await Promise.all(indexes.filter((i) => i % 3 === 0).map((i) => new JudgeClient(model(), { cacheDir }).completeJson(request(i))));
    const slowFiles = (await readdir(cacheDir, { recursive: true })).filter((f) => f.endsWith('.json'));
    await Promise.all(slowFiles.map((f) => writeFile(join(cacheDir, f), `${' '.repeat(4 << 20)}{}`)));
    await Promise.all(indexes.filter((i) => i % 3 === 1).map((i) => new JudgeClient(model(), { cacheDir }).completeJson(request(i))));
    const before = server.requests.length;

    const client = new JudgeClient(model(), { cacheDir, maxCalls: 8, concurrency: 1 });
    const results = await Promise.allSettled(indexes.map((i) => client.completeJson(request(i))));
    const needCalls = indexes.filter((i) => i % 3 !== 1);
    const asked = server.requests.slice(before).map((r) => Number(/question (\d+)/.exec(JSON.stringify(r.body))?.[1]));
    expect(asked).toEqual(needCalls.slice(0, 8));
    expect(results.map((r) => r.status)).toEqual(indexes.map((i) => (i % 3 === 1 || needCalls.indexOf(i) < 8 ? 'fulfilled' : 'rejected')));
  });

  it('stops at maxCostUsd using the price table', async () => {
    server = await startJudgeServer({ protocol: 'openai' });
    // 100 input + 20 output tokens per call at 1000/2000 USD per 1M = 0.14 USD per call
    const prices = { 'judge-x': { inputPerMillionUsd: 1000, outputPerMillionUsd: 2000 } };
    const client = new JudgeClient(createOpenAIJudge({ model: 'judge-x-2025-01-01', apiKey: 'k', baseURL: `${server.url}/v1` }), {
      maxCostUsd: 0.3,
      prices,
      concurrency: 1,
    });
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => client.completeJson(request(i))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3); // 0, 0.14, 0.28 < 0.3; stops at 0.42
    expect(client.stats().costUsd).toBeCloseTo(0.42, 10);
    expect(client.budgetExceeded?.limit).toBe('cost');
    expect(() => new JudgeClient(createOpenAIJudge({ model: 'unknown-model', apiKey: 'k' }), { maxCostUsd: 1 })).toThrow(
      /no price is known/,
    );
  });

  it('extracts JSON from fenced or chatty replies', () => {
    expect(extractJson('```json\n{"a":1}\n```')).toEqual({ a: 1 });
    expect(extractJson('Sure! {"a":2} hope that helps')).toEqual({ a: 2 });
    expect(extractJson('nope')).toBeUndefined();
  });
});
