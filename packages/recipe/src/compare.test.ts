import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, resolveAsset } from '@lora/core';
import { readPredictions } from '@lora/eval/internal';
import { backendNames } from '@lora/models/internal';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { choosePreset, compareAdapter, reportFiles, trainingSection } from './compare.js';
import { loadRecipe } from './recipe.js';

// The base-vs-adapter comparison on the real stories260K: a tiny chat recipe trained for a few
// steps, then base (adapter disabled) and adapter answers, task metrics, validation loss, the
// long-prompt filter and an extra test set, all read back from the report files.
const assets = process.env.LORA_ASSETS_DIR;
const backend = backendNames.find((b) => b === (process.env.LORA_TEST_BACKEND ?? 'wasm')) ?? 'wasm';
const dir = mkdtempSync(join(tmpdir(), 'lora-recipe-compare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const chats = [
  ['Tell me about the cat.', 'The cat sat on the mat.'],
  ['What did Tom do?', 'Tom ran to the park.'],
  ['Where is the dog?', 'The dog is in the garden.'],
  ['Who is Lily?', 'Lily is a little girl.'],
];
const chatRow = ([u, a]: string[], i: number) => ({
  id: `c${i}`,
  messages: [
    { role: 'user', content: u },
    { role: 'assistant', content: a },
  ],
});
const jsonl = (rows: readonly unknown[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

function writeRecipe(name: string, lines: readonly string[]): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'model: stories260K',
      `backend: ${backend}`,
      'data: { train: train.jsonl, validation: train.jsonl, chatTemplate: stories, addBos: true, maxLength: 64, batchSize: 2 }',
      'training: { maxSteps: 4, learningRate: 0.01, lrScheduler: constant, seed: 1 }',
      ...lines,
    ].join('\n'),
  );
  return file;
}

describe("choosePreset, the examples' data lookup, trainingSection, reportFiles", () => {
  it('picks a preset by name or the fallback, and names the choices for an unknown one', () => {
    const presets = { smoke: 1, full: 2 };
    expect(choosePreset(presets, undefined, 'smoke')).toBe(1);
    expect(choosePreset(presets, 'full', 'smoke')).toBe(2);
    expect(() => choosePreset(presets, 'toString', 'smoke')).toThrow(/unknown preset "toString"; use smoke, full/);
    expect(() => choosePreset(presets, 'big', 'smoke')).toThrow(InvalidArgumentError);
  });
  it('the examples find their data with resolveAsset, which says what LORA_ASSETS_DIR should hold', async () => {
    const root = mkdtempSync(join(tmpdir(), 'lora-recipe-assets-'));
    mkdirSync(join(root, 'data', 'x'), { recursive: true });
    const lookup = (env: Record<string, string>) => resolveAsset('x', { kind: 'dataset', env, allowDownload: false });
    expect(await lookup({ LORA_ASSETS_DIR: root })).toBe(join(root, 'data', 'x'));
    await expect(lookup({})).rejects.toThrow(/LORA_ASSETS_DIR.*data\/x/);
    rmSync(root, { recursive: true, force: true });
  });
  it('lists the report files of a comparison', () => {
    const runs = [{ run: 'base', predictionsFile: 'predictions_base.jsonl' }] as unknown as Parameters<typeof reportFiles>[2];
    expect(reportFiles('/o', { summary: '/o/s.md', table: '/o/t.csv', plots: [] }, runs, '/o/train')).toEqual({
      summary: '/o/s.md',
      table: '/o/t.csv',
      plots: [],
      metrics: ['/o/metrics_base.json'],
      predictions: ['/o/predictions_base.jsonl'],
      lossPlot: '/o/train/loss.svg',
    });
  });
  it('formats the training section', () => {
    expect(trainingSection({ firstLoss: 2, lastLoss: 1, evalLoss: 1.5, steps: 3 }, 1234)).toBe(
      '\n## Training\n\n3 steps; train loss 2.0000 → 1.0000; validation loss 1.5000; pipeline wall time 1.2 s.\n\n![loss](train/loss.svg)\n',
    );
    expect(trainingSection({ firstLoss: 2, lastLoss: 1, steps: 3 }, 0, 'l.svg')).not.toContain('validation');
  });
});

describe.skipIf(assets === undefined)('compareAdapter (stories260K)', () => {
  if (assets === undefined) console.warn('skipped: set LORA_ASSETS_DIR to the shared assets folder (stories260K)');
  writeFileSync(join(dir, 'train.jsonl'), jsonl(chats.map(chatRow)));
  const long = 'Once upon a time there was a little cat who liked the sun. '.repeat(12);
  // Three chats, a raw prompt, and one prompt longer than the 64-token context (then out of the limit).
  writeFileSync(
    join(dir, 'test.jsonl'),
    jsonl([
      ...chats.slice(0, 3).map(chatRow),
      { id: 'p', prompt: 'User: Who is Tom?\nAssistant:' },
      { id: 'long', prompt: long },
      chatRow(chats[3] as string[], 9),
    ]),
  );
  const env = { ...process.env, LORA_ASSETS_DIR: assets };
  const log = () => {};
  const RowSchema = z.looseObject({ id: z.string() });

  it('trains, answers with the adapter off and on, and writes the report with the task metrics', async () => {
    const recipe = writeRecipe('ok', [
      'adapter: { r: 4, loraAlpha: 8, targetModules: all-linear }',
      'evaluation: { test: test.jsonl, limit: 5, maxNewTokens: 6 }',
    ]);
    const out = join(dir, 'ok');
    const seen: string[] = [];
    const r = await compareAdapter(await loadRecipe(recipe, env), {
      out,
      env,
      log,
      testRows: { schema: RowSchema, toExample: (row) => row },
      metrics: [{ kind: 'exact_match' }],
      validationLoss: true,
      dropLongPrompts: true,
      evaluate: {
        taskMetrics: (records, run) => {
          seen.push(run);
          return { raw: { 'task.count': records.length } };
        },
      },
      extraSets: [{ outDir: join(out, 'extra'), examples: () => [{ id: 'e', messages: [{ role: 'user', content: 'Hi' }] }] }],
    });
    expect(r.runs.map((run) => run.run)).toEqual(['base', 'lora']);
    expect(seen).toEqual(['base', 'lora']);
    // limit 5 keeps c0, c1, c2, p, long; long does not fit in 64 tokens with 6 new ones.
    expect(r.examples.map((e) => e.id)).toEqual(['c0', 'c1', 'c2', 'p']);
    expect(r.skippedLongPrompts).toBe(1);
    // A chat row is rendered up to its last assistant turn, which becomes the reference.
    expect(r.examples[0]).toMatchObject({
      prompt: 'User: Tell me about the cat.\nAssistant:',
      reference: 'The cat sat on the mat.',
      addSpecialTokens: false,
    });
    for (const run of r.runs) {
      const saved = JSON.parse(readFileSync(join(out, `metrics_${run.run}.json`), 'utf8')) as {
        metrics: { raw: Record<string, number> };
        meta: Record<string, unknown>;
      };
      expect(Object.keys(saved.metrics.raw)).toEqual(expect.arrayContaining(['exact_match', 'task.count', 'validation_loss']));
      expect(saved.metrics.raw['task.count']).toBe(4);
      expect(saved.metrics.raw.validation_loss).toBe(r.validation?.[run.run]);
      expect(saved.meta).toMatchObject({ recipe, model: 'stories260K', adapter: join(out, 'train') });
      expect(readPredictions(join(out, run.predictionsFile)).map((p) => p.id)).toEqual(['c0', 'c1', 'c2', 'p']);
      expect(existsSync(join(out, 'extra', `predictions_${run.run}.jsonl`))).toBe(true);
    }
    // The adapter learned the training chats: its validation loss is below the base's.
    expect(r.validation?.lora).toBeLessThan(r.validation?.base ?? Number.NaN);
    expect(existsSync(join(out, 'comparison_summary.md'))).toBe(true);
    expect(existsSync(join(out, 'train', 'adapter_model.safetensors'))).toBe(true);
    expect(r.train.steps).toBe(4);
    expect(r.train.lastLoss).toBeLessThan(r.train.firstLoss);
    expect(r.trainMs).toBeGreaterThan(0);
  });

  it('refuses a recipe without an evaluation section before training, and one without an adapter', async () => {
    const noEval = writeRecipe('no-eval', ['adapter: { r: 4, loraAlpha: 8 }']);
    const out = join(dir, 'no-eval');
    const options = { out, env, log, testRows: () => [], metrics: [] };
    await expect(compareAdapter(await loadRecipe(noEval, env), options)).rejects.toThrow(/no `evaluation:` section/);
    expect(existsSync(join(out, 'train'))).toBe(false);
    const full = writeRecipe('full-ft', ['adapter: none', 'evaluation: { test: test.jsonl }']);
    await expect(compareAdapter(await loadRecipe(full, env), { ...options, out: join(dir, 'full'), maxSteps: 1 })).rejects.toThrow(
      /trains without an adapter/,
    );
  });
});
