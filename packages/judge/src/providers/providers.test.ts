import { afterEach, describe, expect, it } from 'vitest';
import { LoadApiKeyError } from '../errors/load-api-key-error.js';
import { loadApiKey } from '../load-api-key.js';
import { PairwiseVerdictSchema } from '../prompts/schemas.js';
import { startJudgeServer, type JudgeServer } from '../test/judge-server.js';
import { createGeminiJudge } from './gemini.js';
import { createLocalJudge } from './local.js';
import { createOpenAICompatibleJudge, createOpenAIJudge } from './openai.js';
import { JudgeCallError } from '../errors/judge-call-error.js';
import type { JudgeRequest } from '../model.js';

const messages = [
  { role: 'system' as const, content: 'You are an impartial judge comparing two AI assistant responses.' },
  {
    role: 'user' as const,
    content:
      '[User request]\nq\n[End of user request]\n\n[Response 1]\nx\n[End of response 1]\n\n[Response 2]\n[good] y\n[End of response 2]',
  },
];
const responseFormat = { name: 'pairwise_verdict', schema: PairwiseVerdictSchema };

let server: JudgeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('OpenAI provider (openai SDK) against a loopback chat-completions server', () => {
  it('sends structured-output requests with the key and parses text and usage', async () => {
    server = await startJudgeServer({ protocol: 'openai' });
    const judge = createOpenAIJudge({ model: 'gpt-4o-mini', apiKey: 'sk-test-secret', baseURL: `${server.url}/v1` });
    const out = await judge.complete({ messages, responseFormat });
    expect(JSON.parse(out.text)).toEqual({ reason: 'rule', winner: 'response_2' });
    expect(out.usage).toEqual({ inputTokens: 100, outputTokens: 20 });
    const request = server.requests[0]!;
    expect(request.headers.authorization).toBe('Bearer sk-test-secret');
    expect(request.body['model']).toBe('gpt-4o-mini');
    expect(request.body['temperature']).toBe(0);
    const format = request.body['response_format'] as {
      type: string;
      json_schema: { name: string; strict: boolean; schema: { properties: Record<string, unknown> } };
    };
    expect(format.type).toBe('json_schema');
    expect(format.json_schema.name).toBe('pairwise_verdict');
    expect(format.json_schema.strict).toBe(true);
    expect(Object.keys(format.json_schema.schema.properties)).toEqual(['reason', 'winner']);
  });

  it('works as an OpenAI-compatible endpoint by base URL, with JSON mode (and the schema beside it) when asked', async () => {
    server = await startJudgeServer({ protocol: 'openai' });
    const judge = createOpenAICompatibleJudge({
      model: 'qwen2.5:7b',
      baseURL: `${server.url}/v1`,
      apiKey: 'x',
      structuredOutputs: 'json_object',
    });
    expect(judge.provider).toBe('openai-compatible');
    await judge.complete({ messages, responseFormat });
    // `schema` beside json_object: llama.cpp's server and llama-cpp-python constrain the reply to it.
    const sent = server.requests[0]!.body['response_format'] as { type: string; schema: { properties: Record<string, unknown> } };
    expect(sent.type).toBe('json_object');
    expect(Object.keys(sent.schema.properties)).toEqual(['reason', 'winner']);
  });

  it('maps 429 with Retry-After, 500, 400 and malformed bodies to typed errors', async () => {
    server = await startJudgeServer({
      protocol: 'openai',
      faults: [
        { type: 'status', status: 429, retryAfter: '2' },
        { type: 'status', status: 503 },
        { type: 'status', status: 400 },
        { type: 'malformed' },
      ],
    });
    const judge = createOpenAIJudge({ model: 'gpt-4o-mini', apiKey: 'k', baseURL: `${server.url}/v1` });
    const errors = [];
    for (let i = 0; i < 4; i++) errors.push(await judge.complete({ messages }).catch((e: unknown) => e));
    const summary = errors.map((e) => (JudgeCallError.isInstance(e) ? [e.kind, e.status, e.retryAfterMs, e.retryable] : String(e)));
    expect(summary).toEqual([
      ['rate-limit', 429, 2000, true],
      ['server', 503, undefined, true],
      ['client', 400, undefined, false],
      ['invalid-response', undefined, undefined, true],
    ]);
  });
});

describe('Gemini provider (@google/genai) against a loopback generateContent server', () => {
  it('sends responseMimeType + responseSchema to /v1beta/models/{model}:generateContent', async () => {
    server = await startJudgeServer({ protocol: 'gemini' });
    const judge = createGeminiJudge({ model: 'gemini-2.5-flash', apiKey: 'g-secret', baseUrl: server.url });
    const out = await judge.complete({ messages, responseFormat });
    expect(JSON.parse(out.text)).toEqual({ reason: 'rule', winner: 'response_2' });
    expect(out.usage).toEqual({ inputTokens: 100, outputTokens: 20 });
    const request = server.requests[0]!;
    expect(request.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(request.headers['x-goog-api-key']).toBe('g-secret');
    const config = request.body['generationConfig'] as {
      responseMimeType: string;
      responseSchema: { type: string; properties: Record<string, { type: string; enum?: string[] }> };
      temperature: number;
    };
    expect(config.responseMimeType).toBe('application/json');
    expect(config.responseSchema.type).toBe('OBJECT');
    expect(config.responseSchema.properties['winner']).toMatchObject({ type: 'STRING', enum: ['response_1', 'response_2', 'tie'] });
    expect(config.temperature).toBe(0);
    expect(JSON.stringify(request.body['systemInstruction'])).toContain('impartial judge');
  });

  it('maps 429 with Retry-After, 500 and a timeout to typed errors', async () => {
    server = await startJudgeServer({
      protocol: 'gemini',
      faults: [
        { type: 'status', status: 429, retryAfter: '1' },
        { type: 'status', status: 500 },
        { type: 'slow', delayMs: 2000 },
      ],
    });
    const judge = createGeminiJudge({ model: 'gemini-2.5-flash', apiKey: 'k', baseUrl: server.url, timeoutMs: 200 });
    const errors = [];
    for (let i = 0; i < 3; i++) errors.push(await judge.complete({ messages }).catch((e: unknown) => e));
    expect(errors.map((e) => (JudgeCallError.isInstance(e) ? [e.kind, e.status, e.retryAfterMs] : String(e)))).toEqual([
      ['rate-limit', 429, 1000],
      ['server', 500, undefined],
      ['timeout', undefined, undefined],
    ]);
  });
});

describe('local provider', () => {
  it('renders messages plus the JSON Schema into one prompt for generate()', async () => {
    const prompts: string[] = [];
    const requests: JudgeRequest[] = [];
    const judge = createLocalJudge({
      model: 'tiny',
      generate: async (p, request) => {
        prompts.push(p);
        requests.push(request);
        return '{"reason":"r","winner":"tie"}';
      },
      countTokens: (t) => t.length,
    });
    const out = await judge.complete({ messages, responseFormat });
    expect(out.text).toContain('"tie"');
    expect(prompts[0]).toContain('[Response 2]');
    expect(prompts[0]).toContain('"winner"');
    expect(out.usage.inputTokens).toBe(prompts[0]!.length);
    // The request goes along, so a generator can constrain decoding to its schema.
    expect(requests[0]?.responseFormat?.schema).toBe(responseFormat.schema);
  });
});

describe('loadApiKey', () => {
  it('prefers the option, then env in order, and otherwise names the variables to set', () => {
    expect(loadApiKey({ apiKey: 'a', environmentVariableNames: ['X'], description: 'T', env: { X: 'b' } })).toBe('a');
    expect(
      loadApiKey({ environmentVariableNames: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'], description: 'Gemini', env: { GOOGLE_API_KEY: 'g' } }),
    ).toBe('g');
    const error = (() => {
      try {
        loadApiKey({ environmentVariableNames: ['OPENAI_API_KEY'], description: 'OpenAI', env: {} });
      } catch (e) {
        return e;
      }
    })();
    expect(LoadApiKeyError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/OPENAI_API_KEY.*`apiKey`/);
  });
});
