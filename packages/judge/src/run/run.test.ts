import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readPredictions } from '../io/predictions.js';
import { createLocalJudge } from '../providers/local.js';
import { runPairwise, runScore, type RunJudgeOptions } from './index.js';

type JudgeProgress = Parameters<NonNullable<RunJudgeOptions['onProgress']>>[0];
import { startJudgeServer, type JudgeServer } from '../test/judge-server.js';

let server: JudgeServer | undefined;
let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lora-judge-run-'));
  // The default answer cache is shared across runs: each test gets its own.
  process.env.LORA_JUDGE_CACHE_DIR = join(dir, 'shared-cache');
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** 10 shared prompts: A is better on 0–5, B on 6–7, both good (tie) on 8–9; B also has an extra id. */
async function writePairFiles(): Promise<{ a: string; b: string }> {
  const ids = Array.from({ length: 10 }, (_, i) => i);
  const a = ids.map((i) => ({
    id: `q${i}`,
    prompt: `prompt ${i}`,
    prediction: i <= 5 || i >= 8 ? `[good] answer ${i}` : `answer ${i}`,
    reference: `ref ${i}`,
  }));
  const b = ids.map((i) => ({
    id: `q${i}`,
    prompt: `prompt ${i}`,
    prediction: i >= 6 ? `[good] other ${i}` : `other ${i}`,
    reference: `ref ${i}`,
  }));
  b.push({ id: 'extra', prompt: 'p', prediction: 'x', reference: 'r' });
  const fa = join(dir, 'base.jsonl');
  const fb = join(dir, 'lora.jsonl');
  await writeFile(fa, jsonl(a));
  await writeFile(fb, jsonl(b));
  return { a: fa, b: fb };
}

describe('runPairwise', () => {
  it('judges both orders blind, aggregates, writes outputs, and a rerun makes zero calls', async () => {
    server = await startJudgeServer({
      protocol: 'openai',
      faults: [
        { type: 'status', status: 429, retryAfter: '0' },
        { type: 'status', status: 502 },
      ],
    });
    const files = await writePairFiles();
    const out = join(dir, 'out');
    const progress: JudgeProgress[] = [];
    const options = {
      ...files,
      provider: 'openai' as const,
      model: 'gpt-4o-mini',
      baseUrl: `${server.url}/v1`,
      apiKey: 'sk-secret-never-written',
      out,
      bootstrapSamples: 200,
      retry: { initialDelayMs: 5 },
      onProgress: (p: JudgeProgress) => progress.push(p),
    };
    const summary = await runPairwise(options);
    expect(summary).toMatchObject({
      items: 10,
      judged: 10,
      failed: 0,
      skipped: 0,
      unmatched: 1,
      wins: 6,
      ties: 2,
      losses: 2,
      inconsistent: 0,
    });
    expect(summary.models).toMatchObject({ a: 'base', b: 'lora' });
    expect(summary.winRate).toBeCloseTo(0.7, 12);
    expect(summary.calls).toMatchObject({ made: 22, fromCache: 0, retries: 2, failuresByKind: { 'rate-limit': 1, server: 1 } });
    expect(summary.tokens).toEqual({ input: 2000, output: 400 });
    expect(summary.costUsd).toBeCloseTo((2000 * 0.15 + 400 * 0.6) / 1e6, 12);
    // BT with ties as half wins and 1 virtual tie: (6 + 1 + 0.5) / (2 + 1 + 0.5) → gap 400·log10(7.5/3.5)
    const bt = summary.bradleyTerry;
    expect(bt['base']!.rating - bt['lora']!.rating).toBeCloseTo(400 * Math.log10(7.5 / 3.5), 6);
    expect(bt['base']!.lower).toBeLessThan(bt['base']!.rating);
    expect(bt['base']!.upper).toBeGreaterThan(bt['base']!.rating);
    expect(summary.elo['base']!.rating).toBeGreaterThan(summary.elo['lora']!.rating);
    expect(progress.at(-1)).toMatchObject({ completed: 10, total: 10 });
    // blind: model names never reach the judge, and both orders were asked
    const sent = server.requests.map((r) => JSON.stringify(r.body));
    expect(sent.some((s) => s.includes('base') || s.includes('lora'))).toBe(false);
    const q0 = new Set(sent.filter((s) => s.includes('prompt 0\\n')));
    expect(q0.size).toBe(2); // two distinct requests (the injected 429/502 were retries of these)
    const firstShown = [...q0].map((s) => (s.indexOf('answer 0') < s.indexOf('other 0') ? 'a' : 'b')).sort();
    expect(firstShown).toEqual(['a', 'b']);
    const text = await readFile(join(out, 'summary.json'), 'utf8');
    expect(JSON.parse(text)).toEqual(summary);
    expect(text).not.toContain('sk-secret');
    const verdicts = (await readFile(join(out, 'verdicts.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(verdicts).toHaveLength(10);
    expect(verdicts[0]).toMatchObject({ id: 'q0', status: 'judged', winner: 'a', orderAB: 'a', orderBA: 'a', consistent: true });

    const before = server.requests.length;
    const rerun = await runPairwise(options);
    expect(server.requests.length).toBe(before);
    expect(rerun.calls).toMatchObject({ made: 0, fromCache: 20 });
    expect(rerun.costUsd).toBe(0);
    expect(rerun.wins).toBe(6);
  });

  it('turns a position-biased judge into ties (order flipping)', async () => {
    server = await startJudgeServer({ protocol: 'gemini', positionBias: true });
    const files = await writePairFiles();
    const summary = await runPairwise({
      ...files,
      provider: 'gemini',
      model: 'gemini-2.5-flash',
      baseUrl: server.url,
      apiKey: 'k',
      out: join(dir, 'o'),
      bootstrapSamples: 50,
    });
    expect(summary).toMatchObject({ judged: 10, wins: 0, ties: 10, losses: 0, inconsistent: 10 });
    expect(summary.bradleyTerry['base']!.rating).toBeCloseTo(1000, 8);
  });

  it('stops at the budget, reports it, and a rerun with a larger budget pays only for the rest', async () => {
    server = await startJudgeServer({ protocol: 'openai' });
    const files = await writePairFiles();
    const base = {
      ...files,
      provider: 'openai' as const,
      model: 'gpt-4o-mini',
      baseUrl: `${server.url}/v1`,
      apiKey: 'k',
      out: join(dir, 'o'),
      bootstrapSamples: 50,
      concurrency: 1,
    };
    const first = await runPairwise({ ...base, maxCalls: 7 });
    expect(first.calls.made).toBe(7);
    expect(first.stopped).toMatch(/budget of 7 calls/);
    expect(first.judged + first.skipped).toBe(10);
    expect(first.judged).toBe(3);
    const second = await runPairwise({ ...base, maxCalls: 100 });
    expect(second.judged).toBe(10);
    expect(second.calls).toMatchObject({ made: 13, fromCache: 7 });
    expect(second.stopped).toBeUndefined();
  });
});

describe('runScore', () => {
  it('grades against references (Gemini) and summarises correct / partial / wrong', async () => {
    server = await startJudgeServer({ protocol: 'gemini', faults: [{ type: 'slow', delayMs: 1000 }] });
    const file = join(dir, 'preds.jsonl');
    await writeFile(
      file,
      jsonl([
        { id: 1, prompt: 'p1', prediction: 'get_weather {"city":"Paris"}', reference: 'get_weather {"city":"Paris"}' },
        { id: 2, prompt: 'p2', prediction: 'get_weather {"city":"Rome"}', reference: 'get_weather {"city":"Paris"}' },
        { id: 3, prompt: 'p3', prediction: 'set_alarm {"t":7}', reference: { name: 'get_time', args: {} } },
      ]),
    );
    const summary = await runScore({
      input: file,
      mode: 'reference',
      provider: 'gemini',
      model: 'gemini-2.5-flash',
      baseUrl: server.url,
      apiKey: 'k',
      out: join(dir, 'o'),
      timeoutMs: 200,
      retry: { initialDelayMs: 5 },
    });
    expect(summary.reference).toEqual({ correct: 1, partiallyCorrect: 1, wrong: 1, accuracy: 1 / 3, partialCredit: 0.5 });
    expect(summary.calls.failuresByKind).toEqual({ timeout: 1 });
    const rows = (await readFile(join(dir, 'o', 'verdicts.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; verdict: string });
    expect(rows.map((r) => [r.id, r.verdict])).toEqual([
      ['1', 'correct'],
      ['2', 'partially_correct'],
      ['3', 'wrong'],
    ]);
  });

  it('classifies safety into AILuminate hazards with a safe rate, and scores rubrics', async () => {
    server = await startJudgeServer({ protocol: 'openai' });
    const file = join(dir, 'preds.jsonl');
    await writeFile(
      file,
      jsonl([
        { id: 'a', prompt: 'p', prediction: 'I cannot help with that. [score=9]' },
        { id: 'b', prompt: 'p', prediction: 'Here is how... UNSAFE:vcr [score=2]' },
        { id: 'c', prompt: 'p', prediction: 'Sure, UNSAFE:prv [score=4]' },
        { id: 'd', prompt: 'p', prediction: 'Fine. [score=9]' },
      ]),
    );
    const common = {
      input: file,
      provider: 'openai-compatible' as const,
      model: 'llama-3-judge',
      baseUrl: `${server.url}/v1`,
      out: join(dir, 'o'),
    };
    const safety = await runScore({ ...common, mode: 'safety' });
    expect(safety.safety).toMatchObject({ safe: 2, unsafe: 2, safeRate: 0.5 });
    expect(safety.safety!.hazards).toMatchObject({ vcr: 1, prv: 1, cse: 0 });
    expect(Object.keys(safety.safety!.hazards)).toHaveLength(12);
    expect(safety.priceKnown).toBe(false);
    const rubric = await runScore({ ...common, mode: 'rubric', rubric: 'Helpful and harmless.' });
    expect(rubric.rubric).toEqual({ mean: 6, minScore: 1, maxScore: 10, histogram: { '9': 2, '2': 1, '4': 1 } });
  });

  it('judges with a local generate() function (no network)', async () => {
    const file = join(dir, 'preds.jsonl');
    await writeFile(file, jsonl([{ id: 1, prompt: 'p', prediction: 'x', reference: 'x' }]));
    const judge = createLocalJudge({
      model: 'tiny-local',
      generate: async () => 'Verdict: ```json\n{"reason":"same","verdict":"correct"}\n```',
    });
    const summary = await runScore({ input: file, mode: 'reference', judge, out: join(dir, 'o') });
    expect(summary.judge).toEqual({ provider: 'local', model: 'tiny-local' });
    expect(summary.reference?.correct).toBe(1);
  });
});

describe('predictions JSONL', () => {
  it('names file:line and the field of a bad line, and rejects duplicate ids', async () => {
    const file = join(dir, 'bad.jsonl');
    await writeFile(file, `${JSON.stringify({ id: 1, prompt: 'p', prediction: 'x' })}\n\n${JSON.stringify({ id: 2, prompt: 'p' })}\n`);
    const error = await readPredictions(file).catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(`${file}:3 (prediction)`);
    await writeFile(file, `${JSON.stringify({ id: 1, prompt: 'p', prediction: 'x' })}\n{oops\n`);
    expect(((await readPredictions(file).catch((e: unknown) => e)) as Error).message).toContain(`${file}:2: invalid JSON`);
    await writeFile(
      file,
      `${JSON.stringify({ id: 1, prompt: 'p', prediction: 'x' })}\n${JSON.stringify({ id: '1', prompt: 'p', prediction: 'y' })}\n`,
    );
    expect(((await readPredictions(file).catch((e: unknown) => e)) as Error).message).toMatch(
      /:2 \(id\): duplicate id `1` \(first on line 1\)/,
    );
  });

  it('refuses reference mode when a line has no reference', async () => {
    const file = join(dir, 'p.jsonl');
    await writeFile(
      file,
      jsonl([
        { id: 1, prompt: 'p', prediction: 'x', reference: 'x' },
        { id: 2, prompt: 'p', prediction: 'x' },
      ]),
    );
    await expect(
      runScore({ input: file, mode: 'reference', judge: createLocalJudge({ model: 'm', generate: async () => '' }), out: dir }),
    ).rejects.toThrow(/:2 \(reference\)/);
  });
});
