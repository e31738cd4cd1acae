import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CausalLM } from '../architectures/causal-lm.js';
import { createCausalLM } from '../architectures/registry.js';
import { defaultStopTokenIds, withGenerationEosTokenIds } from '../config/generation-config.js';
import { readGenerationEosTokenIds } from '../config/read-generation-config.js';
import { parseModelConfig } from '../config/model-config.js';
import { randomWeights, setupTestBackend, tinyConfigJson } from '../test/index.js';
import { generate } from './generate.js';

/** The tiny random Llama of seed 6 (std 0.5: varied greedy tokens), with the given `eos_token_id` and generation-config eos ids. */
async function tinyModel(eos: number | number[], generationEos?: number[]): Promise<CausalLM> {
  const parsed = parseModelConfig(tinyConfigJson('llama', { eos_token_id: eos }), { file: 'config.json' });
  const config = withGenerationEosTokenIds(parsed, generationEos);
  return createCausalLM(config, randomWeights(config, 6, 0.5), 'tiny');
}

describe("generate stops at the model's end-of-sequence ids by default", () => {
  const prompt = [1, 7, 3];
  let free: number[];
  /** First index whose token did not occur before it, from `from` on. */
  const fresh = (from: number) => free.findIndex((t, i) => i >= from && !free.slice(0, i).includes(t));

  beforeAll(async () => {
    await setupTestBackend();
    // An id the model never produces, so this run goes the full length.
    const model = await tinyModel(62);
    free = (await generate(model, [prompt], { maxNewTokens: 12, stopTokenIds: [] })).sequences[0] as number[];
    model.dispose();
    expect(new Set(free).size).toBeGreaterThan(2);
  });

  it('uses config.json eos_token_id when no stop ids are given', async () => {
    const k = fresh(2);
    const model = await tinyModel(free[k] as number);
    const out = await generate(model, [prompt], { maxNewTokens: 12 });
    expect(out.sequences[0]).toEqual(free.slice(0, k + 1));
    expect(out.finishReasons).toEqual(['stop']);
    model.dispose();
  });

  it('prefers generation_config eos ids, and [] turns stopping off', async () => {
    const k = fresh(2);
    const j = fresh(k + 1) >= 0 ? fresh(k + 1) : k;
    const model = await tinyModel(free[k] as number, [free[j] as number, 62]);
    expect(defaultStopTokenIds(model.config)).toEqual([free[j], 62]);
    expect((await generate(model, [prompt], { maxNewTokens: 12 })).sequences[0]).toEqual(free.slice(0, j + 1));
    const off = await generate(model, [prompt], { maxNewTokens: 12, stopTokenIds: [] });
    expect(off.sequences[0]).toEqual(free);
    expect(off.finishReasons).toEqual(['length']);
    // An explicit list replaces the defaults.
    expect((await generate(model, [prompt], { maxNewTokens: 12, stopTokenIds: [free[0] as number] })).sequences[0]).toEqual(
      free.slice(0, 1),
    );
    model.dispose();
  });

  it("adds the tokenizer's EOS ids to the model's, unless stopTokenIds is given", async () => {
    const k = fresh(3);
    const j = fresh(1);
    const model = await tinyModel(free[k] as number);
    const tokenizer = { eosTokenIds: [free[j] as number] };
    expect((await generate(model, [prompt], { maxNewTokens: 12, tokenizer })).sequences[0]).toEqual(free.slice(0, j + 1));
    expect((await generate(model, [prompt], { maxNewTokens: 12, tokenizer, stopTokenIds: [] })).sequences[0]).toEqual(free);
    model.dispose();
  });
});

describe('readGenerationEosTokenIds', () => {
  it('reads eos_token_id (number or list) and names the file of a bad one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-gen-'));
    expect(await readGenerationEosTokenIds(dir)).toBeUndefined();
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [128001, 128009], do_sample: true }));
    expect(await readGenerationEosTokenIds(dir)).toEqual([128001, 128009]);
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 2 }));
    expect(await readGenerationEosTokenIds(dir)).toEqual([2]);
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ temperature: 0.7 }));
    expect(await readGenerationEosTokenIds(dir)).toBeUndefined();
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 'x' }));
    const error = await readGenerationEosTokenIds(dir).catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect(String(error)).toMatch(/generation_config\.json \(eos_token_id\)/);
  });
});

describe('generate processLogits', () => {
  beforeAll(async () => {
    await setupTestBackend();
  });

  it('forces a token sequence, and is given the new tokens so far', async () => {
    const model = await tinyModel(62);
    const forced = [5, 9, 5, 40, 2];
    const seen: number[][] = [];
    const out = await generate(model, [[1, 7, 3]], {
      maxNewTokens: forced.length,
      stopTokenIds: [],
      processLogits: (logits, tokens, row) => {
        expect(row).toBe(0);
        seen.push([...tokens]);
        const want = forced[tokens.length] as number;
        for (let i = 0; i < logits.length; i++) if (i !== want) logits[i] = -Infinity;
      },
    });
    expect(out.sequences[0]).toEqual(forced);
    expect(seen).toEqual(forced.map((_, i) => forced.slice(0, i)));
    model.dispose();
  });

  it('masking picks the arg-max among the allowed tokens, per row', async () => {
    const model = await tinyModel(62);
    const free = (
      await generate(
        model,
        [
          [1, 7, 3],
          [4, 2],
        ],
        { maxNewTokens: 6, stopTokenIds: [] },
      )
    ).sequences;
    const picks: number[][] = [[], []];
    const out = await generate(
      model,
      [
        [1, 7, 3],
        [4, 2],
      ],
      {
        maxNewTokens: 6,
        stopTokenIds: [],
        processLogits: (logits, tokens, row) => {
          // Allow only even ids on row 0, only ids not chosen freely at this step on row 1.
          const banned = (id: number) => (row === 0 ? id % 2 === 1 : id === free[1]?.[tokens.length]);
          let best = -1;
          for (let i = 0; i < logits.length; i++) {
            if (banned(i)) logits[i] = -Infinity;
            else if (best < 0 || (logits[i] as number) > (logits[best] as number)) best = i;
          }
          picks[row]?.push(best);
        },
      },
    );
    expect(out.sequences).toEqual(picks);
    expect(out.sequences[0]?.every((t) => t % 2 === 0)).toBe(true);
    expect(out.sequences[1]?.[0]).not.toBe(free[1]?.[0]);
    model.dispose();
  });
});

describe('generate drops stopped rows from the batch', () => {
  beforeAll(async () => {
    await setupTestBackend();
  });

  it('computes only the rows still running, and each row gets the tokens it gets alone', async () => {
    const model = await tinyModel(62);
    const prompts = [[1, 7, 3], [4, 2], [9, 9, 9, 5], [3]];
    const lengths = [2, 6, 3, 6];
    const alone = await Promise.all(
      prompts.map(async (p) => (await generate(model, [p], { maxNewTokens: 6, stopTokenIds: [] })).sequences[0] as number[]),
    );
    const batches: number[] = [];
    const forward = model.forward.bind(model);
    model.forward = ((input, options) => {
      batches.push(input.shape[0]);
      return forward(input, options);
    }) as typeof model.forward;
    const seen: number[] = [];
    const out = await generate(model, prompts, {
      maxNewTokens: 6,
      stopTokenIds: [],
      stop: (tokens, row) => tokens.length >= (lengths[row] as number),
      onToken: (_, row) => seen.push(row),
    });
    expect(out.sequences).toEqual(alone.map((s, r) => s.slice(0, lengths[r])));
    expect(out.finishReasons).toEqual(['stop', 'stop', 'stop', 'stop']);
    // Prompt pass and steps 1–2 with 4 rows; row 0 stops after 2 tokens, row 2 after 3.
    expect(batches).toEqual([4, 4, 3, 2, 2, 2]);
    expect(seen.filter((r) => r === 0)).toHaveLength(2);
    model.dispose();
  });
});
