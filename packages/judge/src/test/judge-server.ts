/**
 * Real HTTP judge servers on loopback for tests: one speaks OpenAI chat-completions
 * (`POST /v1/chat/completions`), the other Gemini `POST /v1beta/models/{model}:generateContent`.
 * A scripted queue of faults (429 with Retry-After, 500, slow replies, malformed bodies, invalid
 * verdicts) is served first; afterwards a deterministic rule-based "judge brain" answers. The
 * OpenAI server can also behave like servers people run: refuse `response_format` types the way
 * llama-cpp-python (500), vLLM (400) or FastAPI (422) do, answer in prose, or check the key (401).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the server does with one request. */
export type ServerAction =
  | { type: 'brain'; delayMs?: number }
  | { type: 'status'; status: number; retryAfter?: string; body?: string }
  | { type: 'malformed' }
  | { type: 'reset' }
  | { type: 'text'; text: string }
  | { type: 'slow'; delayMs: number };

/** A request as the server saw it. */
export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  at: number;
}

/** A running test server. */
export interface JudgeServer {
  url: string;
  requests: RecordedRequest[];
  faults: ServerAction[];
  maxInFlight: number;
  close(): Promise<void>;
}

/** Options of {@link startJudgeServer}. */
export interface JudgeServerOptions {
  protocol: 'openai' | 'gemini';
  /** Faults served first, in order. */
  faults?: ServerAction[];
  /** Delay of every brain answer, to make concurrency observable. */
  delayMs?: number;
  /** A position-biased brain: always prefers the first response shown. */
  positionBias?: boolean;
  /**
   * OpenAI protocol: the `response_format.type`s accepted (`none` = no `response_format`), and how
   * others are refused: `llama-cpp-python` (HTTP 500 with pydantic's validation error, as its
   * server sends), `400` (vLLM-style body) or `422` (FastAPI's `detail` list). Default: all accepted.
   */
  responseFormats?: { accepts: Array<'json_schema' | 'json_object' | 'text' | 'none'>; refuse: 'llama-cpp-python' | 400 | 422 };
  /** Brain answers wrapped in prose (`Verdict: {...} Hope this helps.`), as a model without JSON mode writes. */
  chatty?: boolean;
  /** The only key accepted; others get 401 with a body that echoes the key, as OpenAI's does. */
  apiKey?: string;
}

/** The refusal of an unsupported `response_format.type`, in the style of a real server. */
function refusal(style: 'llama-cpp-python' | 400 | 422, type: string): { status: number; body: string } {
  if (style === 'llama-cpp-python') {
    // llama-cpp-python's RouteErrorHandler turns the pydantic RequestValidationError into HTTP 500.
    const message =
      `1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), ` +
      `'msg': "Input should be 'text' or 'json_object'", 'input': '${type}', 'ctx': {'expected': "'text' or 'json_object'"}}\n`;
    return { status: 500, body: JSON.stringify({ error: { message, type: 'internal_server_error', param: null, code: null } }) };
  }
  if (style === 422) {
    return {
      status: 422,
      body: JSON.stringify({
        detail: [{ type: 'literal_error', loc: ['body', 'response_format', 'type'], msg: "Input should be 'text'", input: type }],
      }),
    };
  }
  return {
    status: 400,
    body: JSON.stringify({
      object: 'error',
      message: `response_format type \`${type}\` is not supported by this server`,
      type: 'BadRequestError',
      param: null,
      code: 400,
    }),
  };
}

/**
 * Deterministic judge: pairwise prefers the response containing `[good]` (tie when both or none);
 * reference grading compares answer and reference (`correct` when equal, `partially_correct` when
 * the first word matches, else `wrong`); rubric reads `[score=N]`; safety flags `UNSAFE:<code>`.
 */
export function brain(system: string, user: string, positionBias = false): Record<string, unknown> {
  const section = (name: string) => new RegExp(`\\[${name}\\]\\n([\\s\\S]*?)\\n\\[End of `, 'i').exec(user)?.[1] ?? '';
  if (system.includes('comparing two')) {
    if (positionBias) return { reason: 'first is better', winner: 'response_1' };
    const g1 = section('Response 1').includes('[good]');
    const g2 = section('Response 2').includes('[good]');
    return { reason: 'rule', winner: g1 === g2 ? 'tie' : g1 ? 'response_1' : 'response_2' };
  }
  if (system.includes('against a reference')) {
    const answer = section('Answer to grade').trim();
    const reference = section('Reference answer').trim();
    const head = (s: string) => s.split(/\s+/)[0];
    return { reason: 'rule', verdict: answer === reference ? 'correct' : head(answer) === head(reference) ? 'partially_correct' : 'wrong' };
  }
  if (system.includes('safety evaluator')) {
    const m = /UNSAFE:(\w+)/.exec(section('Response to classify'));
    return m ? { reason: 'rule', safe: false, hazards: [m[1]] } : { reason: 'rule', safe: true, hazards: [] };
  }
  const score = Number(/\[score=(\d+)\]/.exec(section('Answer to score'))?.[1] ?? 5);
  return { reason: 'rule', score };
}

function extract(protocol: 'openai' | 'gemini', body: Record<string, unknown>): { system: string; user: string } {
  if (protocol === 'openai') {
    const messages = (body['messages'] ?? []) as Array<{ role: string; content: string }>;
    return {
      system: messages
        .filter((m) => m.role === 'system')
        .map((m) => m.content)
        .join('\n'),
      user: messages
        .filter((m) => m.role === 'user')
        .map((m) => m.content)
        .join('\n'),
    };
  }
  const sys = body['systemInstruction'] as { parts?: Array<{ text?: string }> } | undefined;
  const contents = (body['contents'] ?? []) as Array<{ parts: Array<{ text?: string }> }>;
  return {
    system: (sys?.parts ?? []).map((p) => p.text ?? '').join(''),
    user: contents.flatMap((c) => c.parts.map((p) => p.text ?? '')).join('\n'),
  };
}

function reply(protocol: 'openai' | 'gemini', text: string): string {
  const inputTokens = 100;
  const outputTokens = 20;
  if (protocol === 'openai') {
    return JSON.stringify({
      id: 'chatcmpl-test',
      object: 'chat.completion',
      created: 0,
      model: 'test',
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
      usage: { prompt_tokens: inputTokens, completion_tokens: outputTokens, total_tokens: inputTokens + outputTokens },
    });
  }
  return JSON.stringify({
    candidates: [{ content: { role: 'model', parts: [{ text }] }, finishReason: 'STOP' }],
    usageMetadata: { promptTokenCount: inputTokens, candidatesTokenCount: outputTokens, totalTokenCount: inputTokens + outputTokens },
  });
}

/** Starts a judge server on 127.0.0.1 with a random port. */
export async function startJudgeServer(options: JudgeServerOptions): Promise<JudgeServer> {
  let inFlight = 0;
  const state: JudgeServer = {
    url: '',
    requests: [],
    faults: [...(options.faults ?? [])],
    maxInFlight: 0,
    close: async () => {},
  };
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      state.requests.push({ path: req.url ?? '', headers: req.headers, body, at: Date.now() });
      const expected = options.protocol === 'openai' ? /^\/v1\/chat\/completions$/ : /^\/v1beta\/models\/[^/:]+:generateContent$/;
      if (!expected.test(req.url ?? '')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route ${req.url}` } }));
        return;
      }
      if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
        const given = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
        res.writeHead(401, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            error: {
              message: `Incorrect API key provided: ${given}. You can find your API key at https://example.invalid/keys.`,
              type: 'invalid_request_error',
              param: null,
              code: 'invalid_api_key',
            },
          }),
        );
        return;
      }
      const formatType = ((body['response_format'] as { type?: string } | undefined)?.type ?? 'none') as 'none';
      if (options.responseFormats !== undefined && !options.responseFormats.accepts.includes(formatType)) {
        const { status, body: text } = refusal(options.responseFormats.refuse, formatType);
        res.writeHead(status, { 'content-type': 'application/json' }).end(text);
        return;
      }
      const action = state.faults.shift() ?? {
        type: 'brain' as const,
        ...(options.delayMs === undefined ? {} : { delayMs: options.delayMs }),
      };
      const { system, user } = extract(options.protocol, body);
      switch (action.type) {
        case 'status': {
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (action.retryAfter !== undefined) headers['retry-after'] = action.retryAfter;
          res
            .writeHead(action.status, headers)
            .end(action.body ?? JSON.stringify({ error: { message: `injected ${action.status}`, code: action.status } }));
          return;
        }
        case 'reset':
          req.socket.destroy();
          return;
        case 'malformed':
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"choices": [ this is not json');
          return;
        case 'text':
          res.writeHead(200, { 'content-type': 'application/json' }).end(reply(options.protocol, action.text));
          return;
        case 'slow':
          await sleep(action.delayMs);
          if (!res.destroyed)
            res
              .writeHead(200, { 'content-type': 'application/json' })
              .end(reply(options.protocol, JSON.stringify(brain(system, user, options.positionBias))));
          return;
        case 'brain': {
          if (action.delayMs !== undefined) await sleep(action.delayMs);
          const verdict = JSON.stringify(brain(system, user, options.positionBias));
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(reply(options.protocol, options.chatty === true ? `Verdict: ${verdict} Hope this helps.` : verdict));
          return;
        }
      }
    } finally {
      inFlight--;
    }
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
