import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Llama2cTokenizer } from '@lora/data';
import { type CausalLM, loadModel } from '@lora/models';
import { setupTestBackend } from '@lora/models/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPredictions } from './predictions.js';
import { runGeneration } from './run-generation.js';

// Batched greedy generation (left padding, rows that stop early fed padding) must write the same
// predictions as one example at a time, on the real stories260K model.
const assets = process.env.LORA_ASSETS_DIR;
const skipReason = 'skipped: LORA_ASSETS_DIR is unset (point it at ../shared to run)';
const dir = assets === undefined ? '' : join(assets, 'models', 'stories260K');

describe.skipIf(assets === undefined)(`batched generation on stories260K${assets === undefined ? ` (${skipReason})` : ''}`, () => {
  let model: CausalLM;
  let tok: Llama2cTokenizer;
  let out: string;
  beforeAll(async () => {
    await setupTestBackend();
    ({ model } = await loadModel(dir));
    tok = await Llama2cTokenizer.fromFile(join(dir, 'tok512.bin'), { vocabSize: model.config.vocabSize });
    out = mkdtempSync(join(tmpdir(), 'lora-eval-batch-'));
  });
  afterAll(() => {
    model?.dispose();
    if (out !== undefined) rmSync(out, { recursive: true, force: true });
  });

  it('greedy predictions at batch 4 equal batch 1 (prompts of different lengths, early stops)', async () => {
    const prompts = [
      'Once upon a time',
      'Tom had a big',
      'One day, a little bird flew to the',
      'The sun',
      'Lily and her mom went to the park to',
      'A cat',
    ];
    const examples = prompts.map((prompt, i) => ({ id: `p${i}`, prompt }));
    const run = async (batchSize: number) => {
      const file = join(out, `batch-${batchSize}.jsonl`);
      const stats = await runGeneration({ model, tokenizer: tok, examples, outFile: file, batchSize, maxNewTokens: 40, stop: ['.'] });
      return { records: readPredictions(file), stats };
    };
    const one = await run(1);
    const four = await run(4);
    const view = (r: ReturnType<typeof readPredictions>) => r.map((x) => [x.id, x.prediction, x.newTokens, x.finishReason]);
    expect(view(four.records)).toEqual(view(one.records));
    // Stop strings end some rows early while others go on: the batch holds finished rows.
    expect(new Set(four.records.map((r) => r.newTokens)).size).toBeGreaterThan(1);
    const perSecond = (s: typeof one.stats) => (1000 * s.generated) / s.wallMs;
    console.log(
      `stories260K greedy, 6 prompts: batch 1 ${perSecond(one.stats).toFixed(1)} examples/s, batch 4 ${perSecond(four.stats).toFixed(1)} examples/s`,
    );
  });
});
