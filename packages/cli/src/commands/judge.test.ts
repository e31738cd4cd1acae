import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JudgeServer, startJudgeServer } from '@lora/judge/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../testing.js';

// A real OpenAI-protocol server on loopback with a deterministic judge: it prefers answers that contain `[good]`.
let server: JudgeServer;
const dir = mkdtempSync(join(tmpdir(), 'lora-judge-cli-'));
beforeAll(async () => {
  server = await startJudgeServer({ protocol: 'openai', faults: [{ type: 'status', status: 500 }] });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const preds = (file: string, rows: { id: string; prediction: string; reference?: string }[]) =>
  writeFileSync(join(dir, file), rows.map((r) => JSON.stringify({ prompt: `question ${r.id}`, ...r })).join('\n') + '\n');

describe('lora judge', () => {
  it('pairwise: wins, ties, BT ratings, and a rerun served from cache', async () => {
    preds('a.jsonl', [
      { id: '1', prediction: 'meh' },
      { id: '2', prediction: 'meh' },
      { id: '3', prediction: '[good] yes' },
    ]);
    preds('b.jsonl', [
      { id: '1', prediction: '[good] fine' },
      { id: '2', prediction: '[good] fine' },
      { id: '3', prediction: '[good] also' },
    ]);
    const args = [
      'judge',
      'pairwise',
      '--a',
      join(dir, 'a.jsonl'),
      '--b',
      join(dir, 'b.jsonl'),
      '--name-a',
      'base',
      '--name-b',
      'lora',
      '--provider',
      'openai-compatible',
      '--model',
      'judge-model',
      '--base-url',
      `${server.url}/v1`,
      '--out',
      join(dir, 'out'),
    ];
    const env = { OPENAI_API_KEY: 'sk-test-not-logged', LORA_JUDGE_CACHE_DIR: join(dir, 'cache') };
    const first = await runCaptured(args, env);
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ wins: 0, ties: 1, losses: 2 });
    expect(summary.calls.made).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'out', 'summary.json'), 'utf8')).not.toContain('sk-test-not-logged');
    const again = await runCaptured(args, env);
    expect(JSON.parse(again.stdout).calls.made).toBe(0);

    // The cache is shared across output folders: same inputs, another --out, not one request.
    const requests = server.requests.length;
    const elsewhere = await runCaptured([...args.slice(0, -1), join(dir, 'out-2')], env);
    expect(elsewhere.code, elsewhere.stderr).toBe(0);
    expect(JSON.parse(elsewhere.stdout).calls).toMatchObject({ made: 0, fromCache: 6 });
    expect(server.requests.length).toBe(requests);
    // --no-cache pays again; --cache-dir elsewhere starts empty.
    const uncached = await runCaptured([...args, '--no-cache'], env);
    expect(JSON.parse(uncached.stdout).calls.made).toBe(6);
    expect(server.requests.length).toBe(requests + 6);
    const otherCache = await runCaptured([...args, '--cache-dir', join(dir, 'cache-2')], env);
    expect(JSON.parse(otherCache.stdout).calls.made).toBe(6);
  });

  it('exits 1 with a summary when every call fails, and when the budget stops the run', async () => {
    const failing = await startJudgeServer({
      protocol: 'openai',
      faults: Array.from({ length: 100 }, () => ({ type: 'status' as const, status: 429, retryAfter: '0' })),
    });
    try {
      preds('f.jsonl', [
        { id: '1', prediction: 'x', reference: 'x' },
        { id: '2', prediction: 'y', reference: 'x' },
      ]);
      const env = { OPENAI_API_KEY: 'x', LORA_JUDGE_CACHE_DIR: join(dir, 'cache-fail') };
      const base = [
        'judge',
        'score',
        '--input',
        join(dir, 'f.jsonl'),
        '--provider',
        'openai-compatible',
        '--model',
        'm',
        '--base-url',
        `${failing.url}/v1`,
      ];
      const refused = await runCaptured([...base, '--out', join(dir, 'fail')], env);
      expect(refused.code).toBe(1);
      expect(JSON.parse(refused.stdout)).toMatchObject({ judged: 0, failed: 2 });
      expect(refused.stderr).toContain('0 judged / 2 failed / 0 skipped of 2');
      expect(refused.stderr).toMatch(/failed attempts: rate-limit ×10/);
      expect(refused.stderr).toContain('2 of 2 items were not judged');

      const budget = await runCaptured(
        [
          'judge',
          'score',
          '--input',
          join(dir, 'f.jsonl'),
          '--provider',
          'openai-compatible',
          '--model',
          'm',
          '--base-url',
          `${server.url}/v1`,
          '--out',
          join(dir, 'budget'),
          '--max-calls',
          '1',
          '--concurrency',
          '1',
          '--no-cache',
        ],
        env,
      );
      expect(budget.code).toBe(1);
      expect(JSON.parse(budget.stdout)).toMatchObject({ judged: 1, skipped: 1 });
      expect(budget.stderr).toMatch(/1 judged \/ 0 failed \/ 1 skipped of 2.*stopped: /);
    } finally {
      await failing.close();
    }
  });

  it('score: reference grading of one file', async () => {
    preds('p.jsonl', [
      { id: '1', prediction: 'Paris', reference: 'Paris' },
      { id: '2', prediction: 'Lyon', reference: 'Paris' },
    ]);
    const { code, stdout, stderr } = await runCaptured(
      [
        'judge',
        'score',
        '--input',
        join(dir, 'p.jsonl'),
        '--mode',
        'reference',
        '--provider',
        'openai-compatible',
        '--model',
        'm',
        '--base-url',
        `${server.url}/v1`,
        '--out',
        join(dir, 'score'),
      ],
      { OPENAI_API_KEY: 'x', LORA_JUDGE_CACHE_DIR: join(dir, 'cache') },
    );
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout).judged ?? JSON.parse(stdout).items).toBeDefined();
  });

  it('fails clearly without a judge model', async () => {
    const { code, stderr } = await runCaptured(['judge', 'pairwise', '--a', 'x', '--b', 'y', '--provider', 'openai', '--out', dir]);
    expect(code).not.toBe(0);
    expect(stderr).toContain('--model');
  });

  it('against a llama-cpp-python-like server: falls back to json_object once, logs one progress line per item, exits 0', async () => {
    const llama = await startJudgeServer({
      protocol: 'openai',
      responseFormats: { accepts: ['json_object', 'text'], refuse: 'llama-cpp-python' },
    });
    try {
      const rows = Array.from({ length: 12 }, (_, i) => ({ id: `${i}`, prediction: i < 8 ? '[good] a' : 'a' }));
      preds('l-a.jsonl', rows);
      preds(
        'l-b.jsonl',
        rows.map((r) => ({ ...r, prediction: 'b' })),
      );
      const args = ['judge', 'pairwise', '--a', join(dir, 'l-a.jsonl'), '--b', join(dir, 'l-b.jsonl'), '--provider', 'openai-compatible'];
      const rest = ['--model', 'smollm2', '--base-url', `${llama.url}/v1`, '--out', join(dir, 'llama'), '--no-cache'];
      const { code, stdout, stderr } = await runCaptured([...args, ...rest], { LORA_JUDGE_CACHE_DIR: join(dir, 'cache-llama') });
      expect(code, stderr).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ judged: 12, failed: 0, wins: 8, structuredOutputs: { mode: 'json_object' } });
      const sent = llama.requests.map((r) => (r.body['response_format'] as { type: string }).type);
      expect(sent).toEqual(['json_schema', ...Array<string>(24).fill('json_object')]);
      // a log (not a TTY): one line per item, no carriage returns
      expect(stderr).not.toContain('\r');
      const progress = stderr.split('\n').filter((l) => l.startsWith('[lora] judged '));
      expect(progress).toHaveLength(12);
      expect(progress.at(-1)).toMatch(/^\[lora\] judged 12\/12 · calls 25 /);
      expect(stderr).toMatch(
        /response format: json_object for this endpoint; json_schema refused \(500: 1 validation error: .*'response_format'/,
      );

      // pinned json_schema: every item fails at once with the server's message, exit 1
      const pinned = await runCaptured([...args, ...rest, '--response-format', 'json_schema'], {});
      expect(pinned.code).toBe(1);
      expect(pinned.stderr).toMatch(
        /\[lora\] 12 item\(s\) failed: openai-compatible judge call failed \(client 500\): .*--response-format json_object/,
      );
      expect(llama.requests.length).toBe(25 + 24);
    } finally {
      await llama.close();
    }
  });

  it('a wrong key: one request, exit 1, the server message on one line without the key', async () => {
    const guarded = await startJudgeServer({ protocol: 'openai', apiKey: 'right-key' });
    try {
      preds('k.jsonl', [
        { id: '1', prediction: 'x', reference: 'x' },
        { id: '2', prediction: 'y', reference: 'x' },
        { id: '3', prediction: 'z', reference: 'x' },
      ]);
      const { code, stdout, stderr } = await runCaptured(
        ['judge', 'score', '--input', join(dir, 'k.jsonl'), '--provider', 'openai-compatible', '--model', 'm'].concat([
          '--base-url',
          `${guarded.url}/v1`,
          '--out',
          join(dir, 'key'),
          '--no-cache',
        ]),
        { OPENAI_API_KEY: 'sk-wrong-secret-9876' },
      );
      expect(code).toBe(1);
      expect(guarded.requests).toHaveLength(1);
      expect(JSON.parse(stdout)).toMatchObject({ judged: 0, failed: 3, calls: { made: 1, failuresByKind: { auth: 1 } } });
      expect(stderr).toContain('[lora] 3 item(s) failed: openai-compatible judge call failed (auth 401): Incorrect API key provided: ***.');
      expect(stdout + stderr).not.toContain('sk-wrong-secret-9876');
    } finally {
      await guarded.close();
    }
  });
});
