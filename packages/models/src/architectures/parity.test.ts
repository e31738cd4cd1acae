// Golden parity with transformers: tiny random checkpoints, logits and greedy continuations written
// by tools/parity/make_models.py (see fixtures/README.md).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../generate/generate.js';
import { loadModel } from '../load.js';
import { scoreContinuations } from '../scoring/log-probs.js';
import { compareArrays, expectTensorsClose, setupTestBackend } from '../test/index.js';

const FIXTURES = join(import.meta.dirname, '../../../../fixtures');

interface Reference {
  input_ids: number[][];
  logits: number[];
  logits_shape: [number, number, number];
  greedy: { prompt_ids: number[]; max_new_tokens: number; output_ids: number[] };
  padded: { input_ids: number[][]; attention_mask: number[][]; max_new_tokens: number; output_ids: number[][]; pad_token_id: number };
  scores: { prompt_ids: number[]; continuation_ids: number[]; token_logprobs: number[]; sum: number }[];
}

beforeAll(async () => {
  await setupTestBackend();
});

const load = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name, 'reference.json'), 'utf8')) as Reference;

describe.each(['tiny-llama', 'tiny-mistral', 'tiny-qwen3', 'tiny-gemma3', 'tiny-gemma3-mm'])('%s vs transformers', (name) => {
  const dir = join(FIXTURES, name);
  const ref = load(name);

  it('logits match within 1e-5 relative at every position', async () => {
    const { model } = await loadModel(dir, { onWarning: () => {} });
    const [b, t] = ref.logits_shape;
    const logits = model.forward(tf.tensor2d(ref.input_ids.flat(), [b, t], 'int32'));
    expect(logits.shape).toEqual(ref.logits_shape);
    const report = await expectTensorsClose(logits, ref.logits, { rtol: 1e-5, atol: 1e-5 });
    console.log(`${name}: max abs logit error ${report.maxAbs.toExponential(2)}`);
    logits.dispose();
    model.dispose();
  });
});

describe('tiny-gemma3-mm (Gemma3ForConditionalGeneration) layout', () => {
  it('skips the vision tower and projector with one warning that counts them; names modules as transformers does', async () => {
    const keys = JSON.parse(readFileSync(join(FIXTURES, 'tiny-gemma3-mm', 'keys.json'), 'utf8')) as { tensors: Record<string, unknown> };
    const nonText = Object.keys(keys.tensors).filter((k) => /^(vision_tower|multi_modal_projector)\./.test(k)).length;
    expect(nonText).toBeGreaterThan(0);
    const warnings: string[] = [];
    const { model, config } = await loadModel(join(FIXTURES, 'tiny-gemma3-mm'), { onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`skipped ${nonText} vision tower / multi_modal_projector tensor(s) of Gemma3ForConditionalGeneration`);
    expect(config.multimodal).toBe(true);
    expect(model.linearModules()[0]?.path).toBe('model.language_model.layers.0.self_attn.q_proj');
    model.dispose();
    const text = await loadModel(join(FIXTURES, 'tiny-gemma3'), { onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(text.model.linearModules()[0]?.path).toBe('model.layers.0.self_attn.q_proj');
    text.model.dispose();
  });
});

// Configs that set both caps (tools/parity/make_softcap.py): transformers' Gemma 3 never applies the
// attention cap, and only Gemma3ForCausalLM applies the final one.
describe.each(['causal-lm', 'conditional-generation'])('gemma3-softcap/%s vs transformers', (name) => {
  const dir = join(FIXTURES, 'gemma3-softcap', name);
  const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Pick<Reference, 'input_ids' | 'logits' | 'logits_shape'>;

  it('logits match within 1e-5 (attention not soft-capped; final cap as the class applies it)', async () => {
    const { model, config } = await loadModel(dir, { onWarning: () => {} });
    expect(config.attnLogitSoftcapping).toBe(1);
    expect(config.finalLogitSoftcapping).toBe(3);
    const [b, t] = ref.logits_shape;
    const logits = model.forward(tf.tensor2d(ref.input_ids.flat(), [b, t], 'int32'));
    const report = await expectTensorsClose(logits, ref.logits, { rtol: 1e-5, atol: 1e-5 });
    console.log(`gemma3-softcap/${name}: max abs logit error ${report.maxAbs.toExponential(2)}`);
    logits.dispose();
    model.dispose();
  });
});

// The references generate with min_new_tokens = max_new_tokens, which suppresses the config's EOS.
describe.each(['tiny-llama', 'tiny-mistral', 'tiny-qwen3', 'tiny-gemma3'])('%s generation vs transformers', (name) => {
  const dir = join(FIXTURES, name);
  const ref = load(name);
  const eos = (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { eos_token_id: number }).eos_token_id;

  it('greedy KV-cache generation equals transformers generate', async () => {
    const { model } = await loadModel(dir);
    const n = ref.greedy.max_new_tokens;
    const { sequences } = await generate(model, [ref.greedy.prompt_ids], { maxNewTokens: n, minNewTokens: n, stopTokenIds: [eos] });
    expect(sequences[0]).toEqual(ref.greedy.output_ids);
    model.dispose();
  });

  it('left-padded batch generation equals transformers generate', async () => {
    const { model } = await loadModel(dir);
    const prompts = ref.padded.input_ids.map((row, i) => row.filter((_, t) => ref.padded.attention_mask[i]?.[t] === 1));
    const { sequences } = await generate(model, prompts, {
      maxNewTokens: ref.padded.max_new_tokens,
      minNewTokens: ref.padded.max_new_tokens,
      stopTokenIds: [eos],
      padTokenId: ref.padded.pad_token_id,
    });
    expect(sequences).toEqual(ref.padded.output_ids);
    model.dispose();
  });

  it('continuation log-probabilities match', async () => {
    const { model } = await loadModel(dir);
    const results = await scoreContinuations(
      model,
      ref.scores.map((s) => ({ prompt: s.prompt_ids, continuation: s.continuation_ids })),
    );
    results.forEach((r, i) => {
      const expected = ref.scores[i]!;
      expect(compareArrays(r.tokenLogProbs, expected.token_logprobs).maxAbs).toBeLessThan(1e-4);
      expect(r.sum).toBeCloseTo(expected.sum, 4);
    });
    model.dispose();
  });
});
