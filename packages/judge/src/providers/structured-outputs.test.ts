import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JudgeCallError } from '../errors/judge-call-error.js';
import { pairwiseMessages } from '../prompts/prompts.js';
import { PairwiseVerdictSchema } from '../prompts/schemas.js';
import { runPairwise } from '../run/index.js';
import { JudgeClient } from '../runtime/judge-client.js';
import { startJudgeServer, type JudgeServer, type JudgeServerOptions } from '../test/judge-server.js';
import { createOpenAICompatibleJudge } from './openai.js';

// Servers people run, mimicked on loopback: llama-cpp-python (json_schema refused with HTTP 500 and
// pydantic's error), a 400 server (vLLM-style body), a 422 server that takes no response_format at
// all, a 401 that echoes the key. Requests are counted server-side: no futile retries.

let server: JudgeServer | undefined;
let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lora-judge-compat-'));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

const fast = { initialDelayMs: 5, maxDelayMs: 20 };
const formatOf = (r: JudgeServer['requests'][number]) => (r.body['response_format'] as { type?: string } | undefined)?.type ?? 'none';
const formats = (s: JudgeServer) => s.requests.map(formatOf);
const request = (i: number) => ({
  messages: pairwiseMessages({ prompt: `question ${i}`, response1: 'a', response2: '[good] b' }),
  responseFormat: { name: 'pairwise_verdict', schema: PairwiseVerdictSchema },
});

/** 12 items: A is better on the first 8, B on the rest. */
async function pairFiles(): Promise<{ a: string; b: string }> {
  const rows = (side: 'a' | 'b') =>
    Array.from({ length: 12 }, (_, i) => {
      const good = side === 'a' ? i < 8 : i >= 8;
      return JSON.stringify({ id: `q${i}`, prompt: `prompt ${i}`, prediction: `${good ? '[good] ' : ''}${side} ${i}` });
    }).join('\n');
  const a = join(dir, 'base.jsonl');
  const b = join(dir, 'lora.jsonl');
  await writeFile(a, `${rows('a')}\n`);
  await writeFile(b, `${rows('b')}\n`);
  return { a, b };
}

async function run(options: JudgeServerOptions, extra: { apiKey?: string; structuredOutputs?: 'auto' | 'json_schema' } = {}) {
  server = await startJudgeServer(options);
  return runPairwise({
    ...(await pairFiles()),
    provider: 'openai-compatible',
    model: 'smollm2',
    baseUrl: `${server.url}/v1`,
    apiKey: extra.apiKey ?? 'not-needed',
    out: join(dir, 'out'),
    cache: false,
    bootstrapSamples: 20,
    retry: fast,
    ...(extra.structuredOutputs === undefined ? {} : { structuredOutputs: extra.structuredOutputs }),
  });
}

describe('structured-output fallback per endpoint', () => {
  it('llama-cpp-python (json_schema → HTTP 500 validation error): one json_schema attempt, then json_object for every item', async () => {
    const summary = await run({ protocol: 'openai', responseFormats: { accepts: ['json_object', 'text'], refuse: 'llama-cpp-python' } });
    expect(summary).toMatchObject({ items: 12, judged: 12, failed: 0, wins: 8, losses: 4 });
    const sent = formats(server!);
    expect(sent.filter((f) => f === 'json_schema')).toHaveLength(1);
    expect(sent[0]).toBe('json_schema');
    expect(sent.slice(1).every((f) => f === 'json_object')).toBe(true);
    expect(sent).toHaveLength(25); // 24 verdicts + the one refused probe: 25 / 12 ≈ 2.1 requests per item (was 8.4)
    expect(summary.calls).toMatchObject({ made: 25, retries: 0, failedRequests: 0, failuresByKind: { 'response-format': 1 } });
    expect(summary.structuredOutputs).toMatchObject({ requested: 'auto', mode: 'json_object' });
    expect(summary.structuredOutputs!.fallbacks).toHaveLength(1);
    const fallback = summary.structuredOutputs!.fallbacks[0]!;
    expect(fallback).toMatchObject({ from: 'json_schema', to: 'json_object', status: 500 });
    expect(fallback.reason).toContain("'loc': ('body', 'response_format', 'type')");
    expect(fallback.reason).not.toContain('\n');
    // JSON mode carries the schema in the prompt
    expect(JSON.stringify(server!.requests[1]!.body['messages'])).toContain('matching this JSON Schema');
  });

  it('a 400 refusal (vLLM-style body) steps down the same way', async () => {
    server = await startJudgeServer({ protocol: 'openai', responseFormats: { accepts: ['json_object'], refuse: 400 } });
    const judge = createOpenAICompatibleJudge({ model: 'm', baseURL: `${server.url}/v1`, apiKey: 'x' });
    const client = new JudgeClient(judge, { retry: fast });
    const results = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => client.completeJson(request(i))));
    expect(results.every((r) => r.value.winner === 'response_2')).toBe(true);
    expect(formats(server)).toEqual(['json_schema', ...Array<string>(6).fill('json_object')]);
    expect(judge.structuredOutputs?.().fallbacks).toEqual([
      { from: 'json_schema', to: 'json_object', status: 400, reason: 'response_format type `json_schema` is not supported by this server' },
    ]);
  });

  it('a server that takes no response_format (422 for both) gets prompt-only JSON, extracted from prose', async () => {
    const summary = await run({ protocol: 'openai', responseFormats: { accepts: ['none'], refuse: 422 }, chatty: true });
    expect(summary).toMatchObject({ judged: 12, failed: 0, wins: 8, losses: 4 });
    const sent = formats(server!);
    expect(sent.slice(0, 2)).toEqual(['json_schema', 'json_object']);
    expect(sent.slice(2).every((f) => f === 'none')).toBe(true);
    expect(sent).toHaveLength(26);
    expect(summary.structuredOutputs).toMatchObject({ mode: 'none', fallbacks: [{ status: 422 }, { status: 422 }] });
    expect(summary.structuredOutputs!.fallbacks[0]!.reason).toContain('response_format');
    const system = (server!.requests[2]!.body['messages'] as Array<{ role: string; content: string }>)[0]!;
    expect(system.content).toContain('"winner"'); // the JSON Schema is in the prompt
  });

  it('prompt-only: an invalid reply is re-asked once with the error; the same wrong reply twice fails the request', async () => {
    server = await startJudgeServer({
      protocol: 'openai',
      responseFormats: { accepts: ['none'], refuse: 400 },
      faults: [{ type: 'text', text: 'Response 2 is better.' }],
    });
    const judge = createOpenAICompatibleJudge({ model: 'm', baseURL: `${server.url}/v1`, apiKey: 'x', structuredOutputs: 'none' });
    const client = new JudgeClient(judge, { retry: fast });
    expect((await client.completeJson(request(0))).value.winner).toBe('response_2');
    expect(server.requests).toHaveLength(2);
    const reask = server.requests[1]!.body['messages'] as Array<{ role: string; content: string }>;
    expect(reask.at(-2)).toEqual({ role: 'assistant', content: 'Response 2 is better.' });
    expect(reask.at(-1)!.content).toMatch(/^Your reply was not valid: reply is not JSON/);

    server.faults.push({ type: 'text', text: 'no idea' }, { type: 'text', text: 'no idea' }, { type: 'text', text: 'no idea' });
    const error = await client.completeJson(request(1)).catch((e: unknown) => e);
    expect(JudgeCallError.isInstance(error) && error.retryable).toBe(false);
    expect((error as Error).message).toContain('the same reply again after a re-ask');
    expect(server.requests).toHaveLength(4); // one ask, one re-ask; no third identical answer paid for
  });

  it('a pinned json_schema fails each item at once with the server message on one line and a hint', async () => {
    const summary = await run(
      { protocol: 'openai', responseFormats: { accepts: ['json_object'], refuse: 'llama-cpp-python' } },
      { structuredOutputs: 'json_schema' },
    );
    expect(summary).toMatchObject({ judged: 0, failed: 12 });
    expect(server!.requests).toHaveLength(24); // one per verdict, no retries of a validation error
    expect(summary.calls).toMatchObject({ made: 24, retries: 0, failuresByKind: { client: 24 } });
    expect(summary.errors).toHaveLength(1);
    const { message, items } = summary.errors![0]!;
    expect(items).toBe(12);
    expect(message).toMatch(
      /^openai-compatible judge call failed \(client 500\): 1 validation error: .*Input should be 'text' or 'json_object'/,
    );
    expect(message).toContain('--response-format json_object');
    expect(message).not.toContain('\n');
  });
});

describe('retries only for what a retry can fix', () => {
  it('401 fails the run after one request, with the server message and the key masked', async () => {
    const summary = await run({ protocol: 'openai', apiKey: 'right-key' }, { apiKey: 'sk-wrong-secret-1234' });
    expect(summary).toMatchObject({ judged: 0, failed: 12 });
    expect(server!.requests).toHaveLength(1);
    expect(summary.calls).toMatchObject({ made: 1, retries: 0, failuresByKind: { auth: 1 } });
    const message = summary.errors![0]!.message;
    expect(message).toMatch(/^openai-compatible judge call failed \(auth 401\): Incorrect API key provided: \*\*\*\./);
    expect(JSON.stringify(summary)).not.toContain('sk-wrong-secret-1234');
  });

  it('retries 429, 408, 409, 5xx, connection resets and malformed bodies; not a validation error sent as 500', async () => {
    server = await startJudgeServer({
      protocol: 'openai',
      faults: [
        { type: 'status', status: 429, retryAfter: '0' },
        { type: 'status', status: 408 },
        { type: 'status', status: 409 },
        { type: 'status', status: 503 },
        { type: 'reset' },
        { type: 'malformed' },
      ],
    });
    const judge = createOpenAICompatibleJudge({ model: 'm', baseURL: `${server.url}/v1`, apiKey: 'x', structuredOutputs: 'json_schema' });
    const client = new JudgeClient(judge, { retry: { ...fast, maxRetries: 6 } });
    expect((await client.completeJson(request(0))).value.winner).toBe('response_2');
    expect(server.requests).toHaveLength(7);
    expect(client.stats().failuresByKind).toEqual({ 'rate-limit': 1, timeout: 1, server: 2, network: 1, 'invalid-response': 1 });

    const validation = JSON.stringify({
      error: {
        message: "1 validation error:\n  {'type': 'missing', 'loc': ('body', 'messages'), 'msg': 'Field required'}",
        type: 'internal_server_error',
      },
    });
    server.faults.push({ type: 'status', status: 500, body: validation });
    const error = await client.completeJson(request(1)).catch((e: unknown) => e);
    expect(JudgeCallError.isInstance(error) && [error.kind, error.status, error.retryable]).toEqual(['client', 500, false]);
    expect(server.requests).toHaveLength(8);
  });
});
