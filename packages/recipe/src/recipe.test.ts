import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FileFormatError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { loadRecipe } from './recipe.js';

const dir = mkdtempSync(join(tmpdir(), 'lora-recipe-'));
let count = 0;

/** Writes a recipe whose lines replace the defaults of the same top-level key. */
function recipe(extra: Record<string, string> = {}): string {
  const file = join(dir, `r${(count += 1)}.yaml`);
  const lines: Record<string, string> = { model: 'model: stories260K', data: 'data: { train: train.jsonl }', ...extra };
  writeFileSync(file, `${Object.values(lines).join('\n')}\n`);
  return file;
}

async function failure(file: string, env: Record<string, string> = {}): Promise<FileFormatError> {
  const error = await loadRecipe(file, env).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(FileFormatError.isInstance(error), String(error)).toBe(true);
  return error as FileFormatError;
}

describe('loadRecipe refuses bad values, naming the file and field', () => {
  it('learningRate must be in (0, 10]', async () => {
    for (const lr of ['0', '1e10', '-1']) {
      const file = recipe({ training: `training: { learningRate: ${lr} }` });
      const error = await failure(file);
      expect(error.field).toBe('training.learningRate');
      expect(error.message).toMatch(new RegExp(`^${file} \\(training\\.learningRate\\): `));
    }
    await expect(loadRecipe(recipe({ training: 'training: { learningRate: 10 }' }), {})).resolves.toBeDefined();
  });

  it('warmup is a ratio in [0, 1) or a whole number of steps', async () => {
    const error = await failure(recipe({ training: 'training: { warmup: 1.5 }' }));
    expect(error.field).toBe('training.warmup');
    expect(error.message).toMatch(/1\.5 is neither a ratio of maxSteps in \[0, 1\) nor a whole number of steps/);
    for (const ok of ['0.05', '0', '1', '20'])
      await expect(loadRecipe(recipe({ training: `training: { warmup: ${ok} }` }), {})).resolves.toBeDefined();
  });

  it('adapter r: 1e12 is refused before any model loads', async () => {
    const error = await failure(recipe({ adapter: 'adapter: { r: 1e12 }' }));
    expect(error.field).toBe('adapter.r');
    expect(error.message).toMatch(/\(adapter\.r\): `r`: 1000000000000 is not a plausible rank/);
  });

  it('lora_alpha beside loraAlpha is a conflict', async () => {
    const error = await failure(recipe({ adapter: 'adapter: { r: 8, loraAlpha: 16, lora_alpha: 32 }' }));
    expect(error.field).toBe('adapter.loraAlpha');
    expect(error.message).toMatch(/conflicting keys `loraAlpha` and `lora_alpha`/);
  });

  it('modulesToSave and trainableTokenIndices (camelCase or snake_case) reach the adapter config; bad ones name the field', async () => {
    const camel = await loadRecipe(recipe({ adapter: 'adapter: { modulesToSave: [lm_head], trainableTokenIndices: [3, 7] }' }), {});
    expect(camel.recipe.adapter).toMatchObject({ modulesToSave: ['lm_head'], trainableTokenIndices: [3, 7] });
    const snake = await loadRecipe(recipe({ adapter: 'adapter: { trainable_token_indices: { embed_tokens: [5] } }' }), {});
    expect(snake.recipe.adapter).toMatchObject({ trainable_token_indices: { embed_tokens: [5] } });
    const repeated = await failure(recipe({ adapter: 'adapter: { trainableTokenIndices: [3, 3] }' }));
    expect(repeated.field).toBe('adapter.trainableTokenIndices');
    expect(repeated.message).toMatch(/repeats a token index/);
    const both = await failure(recipe({ adapter: 'adapter: { modulesToSave: [embed_tokens], trainableTokenIndices: [1] }' }));
    expect(both.message).toMatch(/`embed_tokens` is in both `modules_to_save` and `trainable_token_indices`/);
  });

  it('name must be one safe path segment', async () => {
    for (const name of ['../../escape', '..', 'a/b', '']) {
      const error = await failure(recipe({ name: `name: ${JSON.stringify(name)}` }));
      expect(error.field).toBe('name');
      expect(error.message).toMatch(/is not a safe run name/);
    }
    expect((await loadRecipe(recipe({ name: 'name: carbot-smoke_2.1' }), {})).recipe.name).toBe('carbot-smoke_2.1');
  });

  it('a chatTemplate file that does not exist names the field and the path', async () => {
    const error = await failure(recipe({ data: 'data: { train: train.jsonl, chatTemplate: missing.jinja }' }));
    expect(error.field).toBe('data.chatTemplate');
    expect(error.message).toBe(
      `${join(dir, `r${count}.yaml`)} (data.chatTemplate): the chat template ${join(dir, 'missing.jinja')} does not exist.`,
    );
  });

  it('an unset ${VAR} names the variable and the field, and says how to set it', async () => {
    const file = recipe({ data: 'data: { train: "${CARBOT_DATA}/train.jsonl" }' });
    const error = await failure(file);
    expect(error.field).toBe('data.train');
    expect(error.message).toMatch(
      /\(data\.train\): uses the environment variable CARBOT_DATA \(`\$\{CARBOT_DATA\}`\), which is not set\. Set it before the command, e\.g\. `CARBOT_DATA=path\/to\/folder lora train /,
    );
  });
});

describe('loadRecipe paths', () => {
  it('resolves a relative ${VAR} against the working directory, plain relative paths against the recipe', async () => {
    const sub = join(dir, 'recipes');
    mkdirSync(sub, { recursive: true });
    const file = join(sub, 'env.yaml');
    writeFileSync(
      file,
      [
        'model: stories260K',
        'data:',
        '  train: ${DATA}/train.jsonl',
        '  validation: validation.jsonl',
        'evaluation: { test: "${DATA}/test.jsonl" }',
      ].join('\n'),
    );
    const { recipe: r } = await loadRecipe(file, { DATA: 'runs/carbot/data' });
    expect(r.data.train).toBe(resolve(process.cwd(), 'runs/carbot/data/train.jsonl'));
    expect(r.evaluation?.test).toBe(resolve(process.cwd(), 'runs/carbot/data/test.jsonl'));
    expect(r.data.validation).toBe(join(sub, 'validation.jsonl'));
    const absolute = await loadRecipe(file, { DATA: '/srv/data' });
    expect(absolute.recipe.data.train).toBe('/srv/data/train.jsonl');
  });
});
