// Fuzzing judge responses (run by `pnpm fuzz`): a real HTTP server on loopback answers each judge
// call with a drawn reply — valid envelopes around valid, edited or non-JSON verdicts, envelopes
// with fields deleted or of the wrong type, random JSON, garbage, truncated bodies, dropped
// connections, every HTTP status with hostile Retry-After values, and error bodies that echo the
// API key as OpenAI's 401 does — for the OpenAI-compatible and the Gemini protocols. A call must
// return a value that matches the schema, or fail with a @lora error, and no message may contain
// the key.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LoraError } from '@lora/core';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { type JsonEdit, applyJsonEdits, jsonEdits, runFuzz } from '../../../../tools/fuzz/harness.js';
import { createGeminiJudge } from '../providers/gemini.js';
import { createOpenAICompatibleJudge } from '../providers/openai.js';
import { JudgeClient } from './judge-client.js';

const KEY = 'sk-fuzz-SECRET-0123456789';
const Verdict = z.strictObject({ verdict: z.enum(['ALLOW', 'DENY']), reason: z.string().min(1) });

type Body =
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; text: string }
  | { kind: 'cut'; value: unknown; at: number }
  | { kind: 'drop' };
interface Reply {
  status: number;
  retryAfter: string | null;
  body: Body;
}

const verdictText = fc.oneof(
  fc
    .record({ verdict: fc.constantFrom('ALLOW', 'DENY'), reason: fc.string({ minLength: 1, maxLength: 30 }) })
    .map((v) => JSON.stringify(v)),
  fc
    .tuple(fc.record({ verdict: fc.constantFrom('ALLOW', 'DENY'), reason: fc.string({ maxLength: 30 }) }), jsonEdits(2))
    .map(([v, e]) => JSON.stringify(applyJsonEdits(v, e)) ?? 'null'),
  fc.string({ maxLength: 80 }),
  fc.constantFrom('```json\n{"verdict":"DENY","reason":"x"}\n```', 'Verdict: {"verdict":"ALLOW","reason":"fine"} hope this helps', '{', ''),
);

function openaiEnvelope(text: string): unknown {
  return {
    id: 'c1',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 10, completion_tokens: 5 },
  };
}
function geminiEnvelope(text: string): unknown {
  return {
    candidates: [{ content: { parts: [{ text }] }, finishReason: 'STOP' }],
    usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5 },
  };
}

function bodyFor(protocol: 'openai' | 'gemini'): fc.Arbitrary<Body> {
  const envelope = protocol === 'openai' ? openaiEnvelope : geminiEnvelope;
  return fc.oneof(
    { weight: 6, arbitrary: verdictText.map((t) => ({ kind: 'json' as const, value: envelope(t) })) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(verdictText, jsonEdits(3))
        .map(([t, e]: [string, JsonEdit[]]) => ({ kind: 'json' as const, value: applyJsonEdits(envelope(t), e) })),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => ({ kind: 'json' as const, value })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 100 }).map((text) => ({ kind: 'raw' as const, text })) },
    { weight: 1, arbitrary: fc.tuple(verdictText, fc.nat()).map(([t, at]) => ({ kind: 'cut' as const, value: envelope(t), at })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Body>(
        { kind: 'json', value: { error: { message: `Incorrect API key provided: ${KEY}`, type: 'invalid_request_error' } } },
        { kind: 'raw', text: `<html>bad key ${KEY}</html>` },
        { kind: 'drop' },
      ),
    },
  );
}

function replies(protocol: 'openai' | 'gemini'): fc.Arbitrary<Reply[]> {
  const reply = fc.record({
    status: fc.oneof(
      { weight: 6, arbitrary: fc.constant(200) },
      { weight: 3, arbitrary: fc.constantFrom(201, 204, 400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504) },
    ),
    retryAfter: fc.option(fc.constantFrom('0', '1', '-5', 'soon', '1e12', 'Wed, 21 Oct 2015 07:28:00 GMT', '99999999', '0.01'), {
      freq: 3,
    }),
    body: bodyFor(protocol),
  });
  return fc.array(reply, { minLength: 1, maxLength: 4 });
}

let queue: Reply[] = [];
let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const r = queue.shift() ?? { status: 503, retryAfter: null, body: { kind: 'raw', text: 'no more replies' } };
      if (r.body.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      const text =
        r.body.kind === 'raw'
          ? r.body.text
          : r.body.kind === 'cut'
            ? JSON.stringify(r.body.value).slice(0, r.body.at % (JSON.stringify(r.body.value).length + 1))
            : (JSON.stringify(r.body.value) ?? 'null');
      res.writeHead(r.status, { 'content-type': 'application/json', ...(r.retryAfter === null ? {} : { 'retry-after': r.retryAfter }) });
      res.end(r.status === 204 ? undefined : text);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

const testCase = fc.oneof(
  replies('openai').map((r) => ({ protocol: 'openai' as const, replies: r })),
  replies('gemini').map((r) => ({ protocol: 'gemini' as const, replies: r })),
);

it('judge responses: hostile replies give a schema-valid verdict or a @lora error, never the key', async () => {
  const report = await runFuzz({
    name: 'judge responses',
    runs: 1200,
    seed: 46,
    arbitrary: testCase,
    describe: (c) => `${c.protocol} ${JSON.stringify(c.replies).slice(0, 280)}`,
    async run(c) {
      queue = [...c.replies];
      const model =
        c.protocol === 'openai'
          ? createOpenAICompatibleJudge({ model: 'fuzz', apiKey: KEY, baseURL: `${url}/v1`, timeoutMs: 5000 })
          : createGeminiJudge({ model: 'gemini-fuzz', apiKey: KEY, baseUrl: url, timeoutMs: 5000 });
      const client = new JudgeClient(model, { retry: { maxRetries: 2, initialDelayMs: 0, maxDelayMs: 1, maxRetryAfterMs: 20, jitter: 0 } });
      try {
        const { value } = await client.completeJson({
          messages: [{ role: 'user', content: 'Is this request safe? Answer {"verdict":"ALLOW"|"DENY","reason":"…"}' }],
          responseFormat: { name: 'verdict', schema: Verdict },
        });
        if (!Verdict.safeParse(value).success) throw new Error(`returned an invalid verdict ${JSON.stringify(value)}`);
        return 'accepted';
      } catch (error) {
        if (String((error as Error)?.message).includes(KEY) || JSON.stringify(client.stats()).includes(KEY))
          throw new Error('the API key leaked into an error');
        throw error;
      }
    },
    isClearError: (error) => LoraError.isInstance(error) && !error.message.includes(KEY),
  });
  expect(report.crashed, JSON.stringify(report.failures.slice(0, 5), null, 2)).toBe(0);
  expect(report.hung).toBe(0);
});
