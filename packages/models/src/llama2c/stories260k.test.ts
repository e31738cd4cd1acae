import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CausalLM } from '../architectures/causal-lm.js';
import { createCausalLM } from '../architectures/registry.js';
import { parseModelConfig } from '../config/model-config.js';
import { generate } from '../generate/generate.js';
import { setupTestBackend } from '../test/index.js';
import { readLlama2cCheckpoint } from './checkpoint.js';

// End to end against karpathy/llama2.c's run.c (fixtures: tools/parity/llama2c/README.md): the
// converted stories260K checkpoint in our HF-style Llama decoder must greedily produce run.c's text.
const assets = process.env.LORA_ASSETS_DIR;
const skipReason = 'skipped: LORA_ASSETS_DIR is unset (point it at ../shared to run)';
if (assets === undefined) console.warn(`[stories260K] ${skipReason}`);
const dir = assets === undefined ? '' : join(assets, 'models', 'stories260K');
const fixtures = new URL('../../../../fixtures/llama2c/', import.meta.url);

interface GenCase {
  name: string;
  prompt: string;
  steps: number;
  stdout: string;
  promptIds: number[];
  generatedIds: number[];
}
const { cases } = JSON.parse(readFileSync(new URL('stories260K-greedy.json', fixtures), 'utf8')) as { cases: GenCase[] };
const reference200 = readFileSync(new URL('stories260K-greedy-200.txt', fixtures), 'utf8');

describe.skipIf(assets === undefined)(`stories260K matches llama2.c run.c${assets === undefined ? ` (${skipReason})` : ''}`, () => {
  let model: CausalLM;
  beforeAll(async () => {
    await setupTestBackend();
    const bin = join(dir, 'stories260K.bin');
    const { config, weights } = await readLlama2cCheckpoint(bin);
    model = await createCausalLM(parseModelConfig(config, { file: bin }), weights, bin);
  });
  afterAll(() => model?.dispose());

  it('has the 200-token reference as its first case', () => {
    expect(cases[0]?.stdout).toBe(reference200);
    expect(cases[0]?.generatedIds).toHaveLength(200);
  });

  it('predicts every reference token by argmax in one teacher-forced forward pass', async () => {
    for (const c of cases) {
      const ids = [...c.promptIds, ...c.generatedIds];
      const input = tf.tensor2d([ids.slice(0, -1)], [1, ids.length - 1], 'int32');
      const logits = model.forward(input);
      const argmax = tf.argMax(logits, -1);
      const predicted = Array.from(await argmax.data()).slice(c.promptIds.length - 1);
      tf.dispose([input, logits, argmax]);
      expect(predicted, c.name).toEqual(c.generatedIds);
    }
  });

  it("greedy-generates run.c's tokens, from BOS and from prompts", async () => {
    const before = tf.memory().numTensors;
    for (const c of cases) {
      // Prompt ids are run.c's own (the tokenizer's parity is tested in @lora/data).
      const prompt = c.promptIds;
      const { sequences, finishReasons } = await generate(model, [prompt], { maxNewTokens: c.generatedIds.length, temperature: 0 });
      const row = sequences[0] ?? [];
      expect(row, c.name).toEqual(c.generatedIds);
      expect(finishReasons).toEqual(['length']);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reproduces the prompted references in one left-padded batch', async () => {
    const prompted = cases.filter((c) => c.prompt !== '');
    const maxNewTokens = Math.min(...prompted.map((c) => c.generatedIds.length));
    const { sequences } = await generate(
      model,
      prompted.map((c) => c.promptIds),
      { maxNewTokens, temperature: 0 },
    );
    prompted.forEach((c, b) => expect(sequences[b], c.name).toEqual(c.generatedIds.slice(0, maxNewTokens)));
  });
});
