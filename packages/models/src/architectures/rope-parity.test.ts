// Golden parity with transformers for the sequence-length scaled rope types (dynamic, yarn,
// longrope): tiny random checkpoints and real config.json shapes written by
// tools/parity/make_rope.py (fixtures/rope/).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ModelConfig, parseModelConfig } from '../config/model-config.js';
import { UnsupportedModelError } from '../errors/unsupported-model-error.js';
import { generate } from '../generate/generate.js';
import { ropeAttentionScaling, ropeInverseFrequencies } from '../layers/rope.js';
import { loadModel } from '../load.js';
import { compareArrays, setupTestBackend } from '../test/index.js';

const ROPE = join(import.meta.dirname, '../../../../fixtures/rope');

interface RopeAt {
  readonly seq_len?: number;
  readonly inv_freq: number[];
  readonly attention_scaling: number;
}

interface Reference {
  input_ids: number[];
  logits: number[];
  short_length: number;
  short_logits: number[];
  greedy: { prompt_ids: number[]; max_new_tokens: number; output_ids: number[] };
  rope: { long: RopeAt; short: RopeAt };
}

interface HubConfig {
  name: string;
  config: Record<string, unknown>;
  short: RopeAt;
  long: RopeAt & { seq_len: number };
}

beforeAll(async () => {
  await setupTestBackend();
});

/** Inverse frequencies and attention scaling agree with transformers' (float32, within an ulp or two). */
function expectRope(config: ModelConfig, at: RopeAt, seqLength: number | undefined): void {
  const rope = config.rope.full_attention;
  const inv = ropeInverseFrequencies(rope, config.headDim, seqLength);
  expect(compareArrays(inv, at.inv_freq).maxRel).toBeLessThan(1e-6);
  expect(ropeAttentionScaling(rope)).toBeCloseTo(at.attention_scaling, 12);
}

describe.each(['llama-dynamic', 'llama-yarn', 'qwen3-yarn-mscale', 'llama-longrope'])('%s vs transformers', (name) => {
  const dir = join(ROPE, name);
  const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;

  it('computes the inverse frequencies and attention scaling transformers uses', async () => {
    const config = parseModelConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), { file: 'config.json' });
    expectRope(config, ref.rope.short, undefined);
    expectRope(config, ref.rope.long, ref.rope.long.seq_len);
  });

  it('logits match within 1e-4 beyond and within the pretraining length', async () => {
    const { model } = await loadModel(dir);
    for (const [ids, expected, what] of [
      [ref.input_ids, ref.logits, 'long'],
      [ref.input_ids.slice(0, ref.short_length), ref.short_logits, 'short'],
    ] as const) {
      const logits = model.forward(tf.tensor2d(ids, [1, ids.length], 'int32'));
      const report = compareArrays(await logits.data(), expected);
      console.log(`${name} ${what} (${ids.length} tokens): max abs logit error ${report.maxAbs.toExponential(2)}`);
      expect(report.maxAbs).toBeLessThan(1e-4);
      logits.dispose();
    }
    model.dispose();
  });

  it('greedy KV-cache generation across the pretraining length equals transformers generate', async () => {
    const { model } = await loadModel(dir);
    const n = ref.greedy.max_new_tokens;
    const { sequences } = await generate(model, [ref.greedy.prompt_ids], { maxNewTokens: n, minNewTokens: n, stopTokenIds: [2] });
    expect(sequences[0]).toEqual(ref.greedy.output_ids);
    model.dispose();
  });
});

describe('real config.json shapes with scaled rope', () => {
  const hub = JSON.parse(readFileSync(join(ROPE, 'hub-configs.json'), 'utf8')) as HubConfig[];
  const byName = (name: string) => {
    const entry = hub.find((h) => h.name === name);
    if (entry === undefined) throw new Error(`hub-configs.json has no ${name}`);
    return entry;
  };

  it.each(['qwen3-4b-yarn', 'llama2-7b-dynamic', 'phi3-128k-longrope-as-llama'])('%s: rope matches transformers', (name) => {
    const entry = byName(name);
    const config = parseModelConfig(entry.config, { file: `${name}/config.json` });
    expectRope(config, entry.short, undefined);
    expectRope(config, entry.long, entry.long.seq_len);
  });

  it('qwen3 yarn and llama2 dynamic parse to the documented parameters', () => {
    const yarn = parseModelConfig(byName('qwen3-4b-yarn').config, { file: 'config.json' }).rope.full_attention;
    expect(yarn).toMatchObject({
      type: 'yarn',
      factor: 4,
      originalMaxPositionEmbeddings: 32768,
      betaFast: 32,
      betaSlow: 1,
      truncate: true,
    });
    expect(yarn.attentionFactor).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
    const dynamic = parseModelConfig(byName('llama2-7b-dynamic').config, { file: 'config.json' }).rope.full_attention;
    expect(dynamic).toMatchObject({ type: 'dynamic', factor: 2, originalMaxPositionEmbeddings: 4096 });
  });

  it('a Phi-3 128k config is refused for its architecture, not its rope', () => {
    const phi3 = byName('phi3-128k-longrope').config;
    let error: unknown;
    try {
      parseModelConfig(phi3, { file: 'phi3/config.json' });
    } catch (e) {
      error = e;
    }
    expect(UnsupportedModelError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/model_type "phi3" is not supported/);
    const asLlama = parseModelConfig(byName('phi3-128k-longrope-as-llama').config, { file: 'config.json' }).rope.full_attention;
    expect(asLlama).toMatchObject({ type: 'longrope', factor: 32, originalMaxPositionEmbeddings: 4096 });
    expect(asLlama.longFactor).toHaveLength(48);
  });
});
