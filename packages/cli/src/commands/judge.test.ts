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
    const args = ['judge', 'pairwise', '--a', join(dir, 'a.jsonl'), '--b', join(dir, 'b.jsonl'), '--name-a', 'base', '--name-b', 'lora',
      '--provider', 'openai-compatible', '--model', 'judge-model', '--base-url', `${server.url}/v1`, '--out', join(dir, 'out')];
    const env = { OPENAI_API_KEY: 'sk-test-not-logged' };
    const first = await runCaptured(args, env);
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ wins: 0, ties: 1, losses: 2 });
    expect(summary.calls.made).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'out', 'summary.json'), 'utf8')).not.toContain('sk-test-not-logged');
    const again = await runCaptured(args, env);
    expect(JSON.parse(again.stdout).calls.made).toBe(0);
  });

  it('score: reference grading of one file', async () => {
    preds('p.jsonl', [
      { id: '1', prediction: 'Paris', reference: 'Paris' },
      { id: '2', prediction: 'Lyon', reference: 'Paris' },
    ]);
    const { code, stdout, stderr } = await runCaptured(
      ['judge', 'score', '--input', join(dir, 'p.jsonl'), '--mode', 'reference', '--provider', 'openai-compatible', '--model', 'm',
        '--base-url', `${server.url}/v1`, '--out', join(dir, 'score')],
      { OPENAI_API_KEY: 'x' },
    );
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout).judged ?? JSON.parse(stdout).items).toBeDefined();
  });

  it('fails clearly without a judge model', async () => {
    const { code, stderr } = await runCaptured(['judge', 'pairwise', '--a', 'x', '--b', 'y', '--provider', 'openai', '--out', dir]);
    expect(code).not.toBe(0);
    expect(stderr).toContain('--model');
  });
});
