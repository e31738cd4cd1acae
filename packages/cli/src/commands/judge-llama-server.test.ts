import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../testing.js';

// `lora judge` against a real OpenAI-compatible server: llama-cpp-python's server (PyPI
// `llama-cpp-python[server]`, built by tools/llama-server/setup.sh) over SmolLM2-135M-Instruct's
// GGUF from ../shared, on loopback. That server refuses `response_format: json_schema` with an
// HTTP 500 naming `response_format`; the judge must step down to `json_object` once, remember it,
// and judge. CI runs this in its own step (`pnpm test:llama-server`) after the setup; without
// LORA_LLAMA_SERVER_PYTHON it is skipped with the reason below.
const python = process.env.LORA_LLAMA_SERVER_PYTHON;
const assets = process.env.LORA_ASSETS_DIR;
const skip =
  python === undefined
    ? 'LORA_LLAMA_SERVER_PYTHON is not set (eval "$(bash tools/llama-server/setup.sh | grep \'^export \')")'
    : assets === undefined
      ? 'LORA_ASSETS_DIR is not set (the folder with models/SmolLM2-135M-Instruct)'
      : undefined;
if (skip !== undefined) console.log(`judge against llama.cpp's server: skipped, ${skip}`);

const ITEMS = [
  [
    'turn the volume up to 7',
    '<ACTION>{"name":"car.media.set_volume","args":{"level":7}}</ACTION>\n<SAY>Volume set to 7.</SAY>',
    '<ACTION>{"name":"car.climate.set_temperature","args":{"zone":"driver","celsius":21}}</ACTION>\n<SAY>Driver side set to 21 degrees.</SAY>',
  ],
  [
    'open the sunroof',
    '<ACTION>{"name":"car.sunroof.open","args":{}}</ACTION>\n<SAY>Opening the sunroof.</SAY>',
    '<ACTION>{"name":"car.media.set_mute","args":{"on":true}}</ACTION>\n<SAY>Audio muted.</SAY>',
  ],
  [
    'mute the music',
    '<ACTION>{"name":"car.media.set_mute","args":{"on":true}}</ACTION>\n<SAY>Audio muted.</SAY>',
    '<ACTION>{"name":"car.sunroof.open","args":{}}</ACTION>\n<SAY>Opening the sunroof.</SAY>',
  ],
] as const;

describe.skipIf(skip !== undefined)("lora judge against llama.cpp's OpenAI-compatible server (SmolLM2 GGUF)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'lora-llama-judge-'));
  let server: ChildProcess | undefined;
  let log = '';
  let baseUrl = '';
  const env = { ...process.env, LORA_JUDGE_CACHE_DIR: join(dir, 'cache') };

  beforeAll(async () => {
    const modelDir = join(assets as string, 'models', 'SmolLM2-135M-Instruct');
    const gguf = readdirSync(modelDir).find((f) => f.endsWith('.gguf'));
    if (gguf === undefined) throw new Error(`no .gguf in ${modelDir}`);
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}/v1`;
    server = spawn(
      python as string,
      [
        '-m',
        'llama_cpp.server',
        '--model',
        join(modelDir, gguf),
        '--model_alias',
        'smollm2',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
      ].concat(['--n_ctx', '4096', '--n_threads', '2', '--seed', '0']),
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    server.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
    });
    // Bounded by the server's own start, not a clock: it either answers or exits.
    for (;;) {
      if (server.exitCode !== null) throw new Error(`llama.cpp server exited with ${server.exitCode}:\n${log.slice(-3000)}`);
      const ok = await fetch(`${baseUrl}/models`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const rows = (pick: 1 | 2) =>
      ITEMS.map(([prompt, ...answers], i) => JSON.stringify({ id: `item-${i}`, prompt, prediction: answers[pick - 1] }));
    writeFileSync(join(dir, 'gold.jsonl'), `${rows(1).join('\n')}\n`);
    writeFileSync(join(dir, 'wrong.jsonl'), `${rows(2).join('\n')}\n`);
    writeFileSync(
      join(dir, 'scored.jsonl'),
      `${ITEMS.map(([prompt, gold], i) => JSON.stringify({ id: `item-${i}`, prompt, prediction: gold, reference: gold })).join('\n')}\n`,
    );
  });

  afterAll(() => {
    server?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  const judge = (args: string[]) =>
    runCaptured(['judge', ...args, '--provider', 'openai-compatible', '--model', 'smollm2', '--base-url', baseUrl], env);

  it('pairwise: steps down from json_schema once, judges both orders, writes Bradley–Terry and Elo', async () => {
    const out = join(dir, 'pairwise');
    const run = await judge([
      'pairwise',
      '--a',
      join(dir, 'gold.jsonl'),
      '--b',
      join(dir, 'wrong.jsonl'),
      '--name-a',
      'gold',
      '--name-b',
      'wrong',
      '--out',
      out,
    ]);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const verdicts = readFileSync(join(out, 'verdicts.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // The server refused json_schema (500 naming response_format) and json_object was kept for the run.
    expect(summary.structuredOutputs.mode).toBe('json_object');
    expect(summary.structuredOutputs.fallbacks[0]).toMatchObject({ from: 'json_schema' });
    expect(run.stderr).toContain('response format: json_object for this endpoint');
    // No futile retries: one refused probe, then at most one call and one re-ask per order.
    expect(summary.calls.made).toBeLessThanOrEqual(1 + ITEMS.length * 2 * 2);
    expect(verdicts).toHaveLength(ITEMS.length);
    const judged = verdicts.filter((v) => v.status === 'judged');
    expect(judged.length).toBeGreaterThan(0);
    for (const v of judged) {
      expect(['a', 'b', 'tie']).toContain(v.orderAB);
      expect(['a', 'b', 'tie']).toContain(v.orderBA);
    }
    expect(Object.keys(summary.bradleyTerry).sort()).toEqual(['gold', 'wrong']);
    expect(Object.keys(summary.elo).sort()).toEqual(['gold', 'wrong']);
    // Exit code tells the truth: 0 only when every item was judged.
    expect(run.code).toBe(judged.length === ITEMS.length ? 0 : 1);
  });

  it('score (reference): verdicts parsed from the server, and a rerun is answered from the cache', async () => {
    const out = join(dir, 'score');
    const first = await judge(['score', '--input', join(dir, 'scored.jsonl'), '--mode', 'reference', '--out', out]);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.structuredOutputs.mode).toBe('json_object');
    const rows = readFileSync(join(out, 'verdicts.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(ITEMS.length);
    expect(rows.filter((r) => r.status === 'judged').length).toBeGreaterThan(0);
    expect(first.code).toBe(summary.failed === 0 && summary.skipped === 0 ? 0 : 1);
    // Same requests, another folder: nothing is paid twice.
    const again = await judge(['score', '--input', join(dir, 'scored.jsonl'), '--mode', 'reference', '--out', join(dir, 'score-again')]);
    const second = JSON.parse(readFileSync(join(dir, 'score-again', 'summary.json'), 'utf8'));
    expect(second.calls.fromCache).toBeGreaterThan(0);
    expect(again.code).toBe(first.code);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}
