import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { loadRecipe } from './recipe.js';

const dir = mkdtempSync(join(tmpdir(), 'lora-recipe-keys-'));

async function messageOf(name: string, yaml: string): Promise<string> {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  const error = await loadRecipe(file, {}).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(FileFormatError.isInstance(error), String(error)).toBe(true);
  return (error as FileFormatError).message;
}

describe('loadRecipe: snake_case keys', () => {
  it('names the camelCase key a snake_case one means, in each section', async () => {
    const training = await messageOf('t.yaml', 'model: stories260K\ndata: { train: train.jsonl }\ntraining: { learning_rate: 2e-4 }\n');
    expect(training).toContain('unknown key learning_rate — did you mean learningRate?');
    const data = await messageOf('d.yaml', 'model: stories260K\ndata: { train: train.jsonl, batch_size: 4, max_length: 64 }\n');
    expect(data).toContain('unknown key batch_size — did you mean batchSize?; unknown key max_length — did you mean maxLength?');
    const top = await messageOf('m.yaml', 'model: stories260K\ndata: { train: train.jsonl }\nmax_steps: 3\n');
    expect(top).toContain('unknown key max_steps');
  });
});
