import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@lora/core';
import { STORIES_CHAT_TEMPLATE, renderChat } from '@lora/data';
import { backendNames } from '@lora/models/internal';
import { PeftModel } from '@lora/peft';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareModel } from './prepare.js';
import { loadRecipe } from './recipe.js';
import { validationLoss } from './split.js';
import { trainRecipe } from './train-recipe.js';

// The composition on the real stories260K: a recipe trained with validation, then the same model
// prepared again from the recipe (4-bit base, the saved adapter) and from a bare ModelSpec.
const assets = process.env.LORA_ASSETS_DIR;
const backend = backendNames.find((b) => b === (process.env.LORA_TEST_BACKEND ?? 'wasm')) ?? 'wasm';
const dir = mkdtempSync(join(tmpdir(), 'lora-recipe-prepare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const chats = [
  ['Tell me about the cat.', 'The cat sat on the mat and looked at the sun.'],
  ['What did Tom do?', 'Tom ran to the park and played with his red ball.'],
  ['Where is the dog?', 'The dog is in the garden, sleeping under the big tree.'],
  ['Who is Lily?', 'Lily is a little girl who loves to sing songs.'],
];
const jsonl = (rows: string[][]) =>
  `${rows
    .map(([u, a]) =>
      JSON.stringify({
        messages: [
          { role: 'user', content: u },
          { role: 'assistant', content: a },
        ],
      }),
    )
    .join('\n')}\n`;

describe.skipIf(assets === undefined)('prepareModel, validationLoss (stories260K)', () => {
  writeFileSync(join(dir, 'train.jsonl'), jsonl(chats));
  writeFileSync(join(dir, 'validation.jsonl'), jsonl(chats.slice(0, 2)));
  const recipeFile = join(dir, 'recipe.yaml');
  writeFileSync(
    recipeFile,
    [
      'model: stories260K',
      `backend: ${backend}`,
      'adapter: { r: 4, loraAlpha: 8, targetModules: all-linear }',
      'data: { train: train.jsonl, validation: validation.jsonl, chatTemplate: stories, addBos: true, maxLength: 64, batchSize: 2 }',
      'training: { maxSteps: 2, learningRate: 0.01, lrScheduler: constant, evalSteps: 2, seed: 1 }',
    ].join('\n'),
  );
  const env = { ...process.env, LORA_ASSETS_DIR: assets };
  const log = () => {};

  it('validationLoss of the trained model is the trainer’s last eval_loss; the base’s is higher', async () => {
    const loaded = await loadRecipe(recipeFile, env);
    const trained = await trainRecipe(loaded, { output: join(dir, 'run'), env, log });
    const peft = trained.model;
    try {
      expect(peft).toBeInstanceOf(PeftModel);
      const evalLoss = trained.result.lastEval?.eval_loss;
      expect(evalLoss).toBeDefined();
      const lora = await validationLoss(loaded.recipe, trained.tokenizer, peft);
      expect(lora).toBeCloseTo(evalLoss as number, 5);
      const base = await (peft as PeftModel).disableAdapter(() => validationLoss(loaded.recipe, trained.tokenizer, peft));
      expect(base).toBeGreaterThan(lora as number);
    } finally {
      peft.dispose();
    }
  });

  it('prepares the recipe’s 4-bit base with the saved adapter, and renders with its template', async () => {
    const { recipe } = await loadRecipe(recipeFile, env);
    const lines: string[] = [];
    const prepared = await prepareModel(
      { ...recipe, quantization: { type: 'nf4', blocksize: 64, doubleQuant: true, skip: [] } },
      { env, log: (l) => lines.push(l), kind: 'inference', adapter: [{ dir: join(dir, 'run') }] },
    );
    try {
      expect(prepared.peft).toBeInstanceOf(PeftModel);
      expect(prepared.model).toBe(prepared.peft);
      expect(lines.some((l) => /quantized \d+ linear modules to nf4 \+ double quant \(blocksize 64\)/.test(l))).toBe(true);
      expect(lines).toContain(`[lora] adapter ${join(dir, 'run')}`);
      expect(prepared.chatTemplate).toBe(STORIES_CHAT_TEMPLATE);
      const messages = [{ role: 'user' as const, content: 'Hi' }];
      expect(prepared.render(messages)).toBe(
        renderChat(prepared.tokenizer, messages, { addGenerationPrompt: true, chatTemplate: STORIES_CHAT_TEMPLATE }),
      );
      expect(() => prepared.render([{ role: 'narrator', content: 'x' }])).toThrow(/messages\[0\]\[role\]/);
    } finally {
      prepared.model.dispose();
    }
  });

  it('prepares a bare ModelSpec (no adapter); `recipe` adapters need a recipe', async () => {
    const prepared = await prepareModel({ model: 'stories260K', backend }, { env, log, kind: 'inference' });
    try {
      expect(prepared.peft).toBeUndefined();
      expect(prepared.chatTemplate).toBeUndefined();
      expect(prepared.loaded.config.vocabSize).toBe(512);
    } finally {
      prepared.model.dispose();
    }
    const error = await prepareModel({ model: 'stories260K', backend }, { env, log, adapter: 'recipe' }).catch((e: unknown) => e);
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
  });
});
