// GGUF import end to end against transformers' own GGUF loader (fixtures written by
// tools/parity/gguf/make_fixtures.py): a tiny random Llama with one block type per matrix, and
// SmolLM2-135M-Instruct Q4_1 from LORA_ASSETS_DIR when it is there.
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFormatError, resolveAsset } from '@lora/core';
import { openGguf } from '@lora/core/internal';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UnsupportedModelError } from '../../errors/unsupported-model-error.js';
import { parseModelConfig } from '../../config/model-config.js';
import { loadModel } from '../../load.js';
import { expectTensorsClose, setupTestBackend } from '../../test/index.js';
import { ggufToHfConfig } from './gguf-config.js';
import { dequantizeGgml } from './dequantize.js';
import { GgufWeightSource } from './gguf-weight-source.js';
import { MemoryFileSource } from '../file-source.js';

const FIXTURES = join(import.meta.dirname, '../../../../../fixtures/gguf');
const TINY = join(FIXTURES, 'tiny-llama', 'tiny-llama.gguf');
/** The tensorflow job has the native ggml kernels (`pnpm setup:tensorflow` builds lora_ops.node); loads keep GGUF blocks there. */
const onTensorflow = process.env.LORA_TEST_BACKEND === 'tensorflow';

beforeAll(async () => {
  await setupTestBackend();
});

describe('tiny random Llama GGUF vs transformers from_pretrained(gguf_file=...)', () => {
  const ref = JSON.parse(readFileSync(join(FIXTURES, 'tiny-llama', 'reference.json'), 'utf8')) as {
    input_ids: number[][];
    logits: number[];
    logits_shape: [number, number, number];
  };

  it('maps metadata to a config.json that parseModelConfig accepts', async () => {
    const config = ggufToHfConfig(await openGguf(TINY));
    expect(config).toMatchObject({
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      vocab_size: 128,
      hidden_size: 256,
      intermediate_size: 256,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      head_dim: 64,
      max_position_embeddings: 64,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: false,
      bos_token_id: 1,
      eos_token_id: 2,
    });
    expect(parseModelConfig(config, { file: TINY }).numKeyValueHeads).toBe(1);
  });

  it('exposes Hugging Face names and [out, in] shapes', async () => {
    const weights = await GgufWeightSource.open(TINY);
    try {
      expect(weights.keys()).toContain('model.layers.1.self_attn.q_proj.weight');
      expect(weights.keys()).toContain('lm_head.weight');
      expect(weights.shape('model.embed_tokens.weight')).toEqual([128, 256]);
      expect(weights.shape('model.layers.0.self_attn.k_proj.weight')).toEqual([64, 256]);
      expect(weights.info('model.layers.0.self_attn.q_proj.weight').typeName).toBe('Q4_K');
    } finally {
      await weights.close();
    }
  });

  it('getRaw gives the stored blocks, q/k rows permuted as get() permutes them', async () => {
    const weights = await GgufWeightSource.open(TINY);
    try {
      for (const name of weights.keys()) {
        const raw = await weights.getRaw(name);
        const info = weights.info(name);
        expect(raw.dtype).toBe(info.typeName);
        expect(raw.shape).toEqual(weights.shape(name));
        const decoded = dequantizeGgml(
          raw.bytes,
          info.type,
          raw.shape.reduce((a, b) => a * b, 1),
          { file: TINY, tensor: name },
        );
        expect(Array.from(decoded)).toEqual(Array.from((await weights.get(name)).data));
      }
    } finally {
      await weights.close();
    }
  });

  it.each(onTensorflow ? [false, true] : [false])('loadModel(file, keepQuantized %s) logits match within 1e-5', async (keepQuantized) => {
    const loaded = await loadModel(TINY, { keepQuantized });
    expect(loaded.format).toBe('gguf');
    if (keepQuantized) expect(loaded.quantizedLayers).toBeGreaterThan(0);
    const [b, t] = ref.logits_shape;
    const logits = loaded.model.forward(tf.tensor2d(ref.input_ids.flat(), [b, t], 'int32'));
    const report = await expectTensorsClose(logits, ref.logits, { rtol: 1e-5, atol: 1e-5 });
    console.log(`tiny-llama GGUF: max abs logit diff ${report.maxAbs.toExponential(2)}`);
    logits.dispose();
    loaded.model.dispose();
  });

  it('loads a folder without config.json holding one .gguf, and refuses two', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gguf-load-'));
    try {
      await copyFile(TINY, join(dir, 'a.gguf'));
      const loaded = await loadModel(dir);
      expect(loaded).toMatchObject({ format: 'gguf', path: join(dir, 'a.gguf') });
      loaded.model.dispose();
      await copyFile(TINY, join(dir, 'b.gguf'));
      await expect(loadModel(dir)).rejects.toThrow(/several GGUF files/);
      // a .gguf name with other bytes is reported as a bad GGUF, not tried as llama2.c
      await writeFile(join(dir, 'c.gguf'), new Uint8Array(64));
      await expect(loadModel(join(dir, 'c.gguf'))).rejects.toSatisfy(
        (e: unknown) => FileFormatError.isInstance(e) && e.file === join(dir, 'c.gguf') && /not a GGUF file/.test(e.message),
      );
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('an architecture without a decoder is an UnsupportedModelError naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gguf-arch-'));
    try {
      // Patch the value of general.architecture ("llama", length-prefixed) to another 5-letter name.
      const bytes = new Uint8Array(readFileSync(TINY));
      const text = new TextDecoder('latin1').decode(bytes);
      const at = text.indexOf('general.architecture') + 'general.architecture'.length + 4 + 8;
      expect(text.slice(at, at + 5)).toBe('llama');
      bytes.set(new TextEncoder().encode('gpt2x'), at);
      const file = join(dir, 'gpt2x.gguf');
      await writeFile(file, bytes);
      const error = await loadModel(file).catch((e: unknown) => e);
      expect(UnsupportedModelError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toContain(file);
      expect((error as Error).message).toMatch(/GGUF architecture "gpt2x"/);
    } finally {
      await rm(dir, { recursive: true });
    }
    // qwen2 maps to a config.json (for `lora convert`), but this package has no qwen2 decoder.
    const gguf = await openGguf(TINY);
    const metadata = Object.fromEntries(
      Object.entries(gguf.metadata).map(([k, v]) => [k.replace(/^llama\./, 'qwen2.'), k === 'general.architecture' ? 'qwen2' : v]),
    );
    const config = ggufToHfConfig({ ...gguf, file: 'q.gguf', metadata });
    expect(config).toMatchObject({ model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], hidden_size: 256 });
    expect(() => parseModelConfig(config, { file: 'q.gguf' })).toThrow(/q\.gguf: model_type "qwen2" is not supported/);
  });

  it('maps Gemma 3 and Qwen 3 metadata the way llama.cpp defines them', async () => {
    const gguf = await openGguf(TINY);
    const rename = (arch: string, extra: Record<string, unknown>) =>
      Object.fromEntries([
        ...Object.entries(gguf.metadata).map(([k, v]) => [k.replace(/^llama\./, `${arch}.`), k === 'general.architecture' ? arch : v]),
        ...Object.entries(extra),
      ]);
    const noOutput = gguf.tensors.filter((t) => t.name !== 'output.weight');
    const gemma = ggufToHfConfig({
      ...gguf,
      tensors: noOutput,
      metadata: rename('gemma3', {
        'gemma3.attention.key_length': 32,
        'gemma3.attention.sliding_window': 512,
        'gemma3.rope.scaling.type': 'linear',
        'gemma3.rope.scaling.factor': 8,
      }),
    });
    expect(gemma).toMatchObject({
      model_type: 'gemma3_text',
      head_dim: 32,
      query_pre_attn_scalar: 32,
      sliding_window: 512,
      sliding_window_pattern: 6,
      rope_local_base_freq: 10000,
      rope_scaling: { rope_type: 'linear', factor: 8 },
      tie_word_embeddings: true,
    });
    const parsed = parseModelConfig(gemma, { file: 'g.gguf' });
    expect(parsed.rope.full_attention).toMatchObject({ type: 'linear', factor: 8 });
    expect(parsed.rope.sliding_attention).toMatchObject({ type: 'default', theta: 10000 });
    const qwen = ggufToHfConfig({ ...gguf, metadata: rename('qwen3', { 'qwen3.attention.key_length': 128 }) });
    expect(parseModelConfig(qwen, { file: 'q.gguf' })).toMatchObject({ modelType: 'qwen3', headDim: 128 });
  });

  it('maps YaRN rope scaling (type, factor, original context, betas) and refuses llama.cpp-only YaRN keys', async () => {
    const gguf = await openGguf(TINY);
    const yarn = {
      'llama.rope.scaling.type': 'yarn',
      'llama.rope.scaling.factor': 4,
      'llama.rope.scaling.original_context_length': 32768,
      'llama.rope.scaling.yarn_beta_fast': 16,
      'llama.rope.scaling.yarn_beta_slow': 2,
    };
    const config = ggufToHfConfig({ ...gguf, metadata: { ...gguf.metadata, ...yarn } });
    expect(config.rope_scaling).toEqual({
      rope_type: 'yarn',
      factor: 4,
      original_max_position_embeddings: 32768,
      beta_fast: 16,
      beta_slow: 2,
    });
    expect(parseModelConfig(config, { file: 'y.gguf' }).rope.full_attention).toMatchObject({
      type: 'yarn',
      factor: 4,
      originalMaxPositionEmbeddings: 32768,
      betaFast: 16,
      betaSlow: 2,
      attentionFactor: 0.1 * Math.log(4) + 1,
    });
    const withLogMul = { ...gguf, file: 'd.gguf', metadata: { ...gguf.metadata, ...yarn, 'llama.rope.scaling.yarn_log_multiplier': 0.1 } };
    expect(() => ggufToHfConfig(withLogMul)).toThrow(
      /d\.gguf: `llama\.rope\.scaling\.yarn_log_multiplier` has no exact transformers rope parameter/,
    );
    const noFactor = ggufToHfConfig({ ...gguf, metadata: { ...gguf.metadata, 'llama.rope.scaling.type': 'linear' } });
    expect(() => parseModelConfig(noFactor, { file: 'l.gguf' })).toThrow(/\(rope_scaling\.factor\).*rope type "linear" needs `factor`/);
  });

  it('a block type it cannot dequantize is a FileFormatError naming the tensor and type', async () => {
    // blocks.gguf (architecture "blocks-test"): names it does not map keep their GGUF name.
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'blocks', 'blocks.gguf')));
    const name = new TextDecoder('latin1').decode(bytes).indexOf('Q4_K');
    const typeAt = name + 4 + 4 + 2 * 8; // name, n_dims, two dims
    expect(new DataView(bytes.buffer).getUint32(typeAt, true)).toBe(12);
    new DataView(bytes.buffer).setUint32(typeAt, 10, true); // Q4_K → Q2_K (smaller blocks: still inside the file)
    const weights = await GgufWeightSource.open(new MemoryFileSource(bytes, 'patched.gguf'));
    try {
      expect(weights.keys()).toContain('Q4_K');
      expect((await weights.get('Q8_0')).shape).toEqual([4, 512]);
      const error = await weights.get('Q4_K').catch((e: unknown) => e);
      expect(FileFormatError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ file: 'patched.gguf', field: 'Q4_K' });
      expect((error as Error).message).toMatch(/Q2_K \(id 10\) cannot be dequantized/);
      await expect(weights.get('nope')).rejects.toSatisfy((e: unknown) => FileFormatError.isInstance(e) && e.field === 'nope');
    } finally {
      await weights.close();
    }
  });
});

describe('tiny Llama with llama3 rope scaling stored as rope_freqs.weight', () => {
  const dir = join(FIXTURES, 'tiny-llama3');
  const file = join(dir, 'tiny-llama3.gguf');
  const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as {
    rope_scaling: Record<string, number | string>;
    input_ids: number[][];
    logits: number[];
    logits_shape: [number, number, number];
  };

  it('recovers rope_scaling from the tensor, and asks for it when not given', async () => {
    const weights = await GgufWeightSource.open(file);
    try {
      expect(weights.keys()).not.toContain('rope_freqs.weight');
      const ropeFreqs = await weights.ropeFreqs();
      // (transformers added rope_theta to the dict it was given; config.json keeps it separately)
      expect(ggufToHfConfig(weights.gguf, { ropeFreqs: ropeFreqs! }).rope_scaling).toEqual({ ...ref.rope_scaling, rope_theta: undefined });
      expect(() => ggufToHfConfig(weights.gguf)).toThrow(/options\.ropeFreqs/);
      expect(() => ggufToHfConfig(weights.gguf, { ropeFreqs: new Float32Array(16).fill(3) })).toThrow(UnsupportedModelError);
    } finally {
      await weights.close();
    }
  });

  it('loadModel logits match the HF model with its llama3 config within 1e-5', async () => {
    const { model, config } = await loadModel(file);
    expect(config.rope.full_attention).toMatchObject({ type: 'llama3', factor: 8, originalMaxPositionEmbeddings: 64 });
    const [b, t] = ref.logits_shape;
    const logits = model.forward(tf.tensor2d(ref.input_ids.flat(), [b, t], 'int32'));
    const report = await expectTensorsClose(logits, ref.logits, { rtol: 1e-5, atol: 1e-5 });
    console.log(`tiny-llama3 GGUF: max abs logit diff ${report.maxAbs.toExponential(2)}`);
    logits.dispose();
    model.dispose();
  });
});

const ASSETS = process.env.LORA_ASSETS_DIR;
const SMOL_DIR = ASSETS === undefined ? '' : join(ASSETS, 'models', 'SmolLM2-135M-Instruct');
const SMOL_REF = join(FIXTURES, 'smollm2', 'reference.json');
const haveSmol = ASSETS !== undefined && existsSync(join(SMOL_DIR, 'SmolLM2-135M-Instruct.Q4_1.gguf'));

describe.skipIf(!haveSmol)(
  'SmolLM2-135M-Instruct Q4_1 GGUF vs transformers (needs LORA_ASSETS_DIR with models/SmolLM2-135M-Instruct; skipped without it)',
  () => {
    // Dequantized to float32, and on tensorflow also kept in its ggml blocks (native kernels).
    it.each(onTensorflow ? [false, true] : [false])(
      'loadModel(resolveAsset folder, keepQuantized %s) logits match within 1e-4 abs on 256 vocab ids per position, same argmax',
      async (keepQuantized) => {
        const ref = JSON.parse(readFileSync(SMOL_REF, 'utf8')) as {
          input_ids: number[];
          argmax: number[];
          vocab_ids: number[];
          logits: number[][];
        };
        const dir = await resolveAsset('SmolLM2-135M-Instruct', { kind: 'model', allowDownload: false });
        expect(dir).toBe(SMOL_DIR);
        const started = performance.now();
        const { model, config, format, quantizedLayers } = await loadModel(dir, { keepQuantized });
        expect(quantizedLayers).toBe(keepQuantized ? 30 * 7 + 1 : 0); // every projection and the tied head
        const loadSeconds = (performance.now() - started) / 1000;
        expect(format).toBe('gguf');
        expect(config).toMatchObject({ numHiddenLayers: 30, hiddenSize: 576, numKeyValueHeads: 3, tieWordEmbeddings: true, bosTokenId: 1 });
        const T = ref.input_ids.length;
        const logits = model.forward(tf.tensor2d(ref.input_ids, [1, T], 'int32'));
        const all = await logits.data();
        const V = config.vocabSize;
        let maxAbs = 0;
        const argmax: number[] = [];
        for (let t = 0; t < T; t++) {
          let best = 0;
          for (let v = 1; v < V; v++) if (all[t * V + v]! > all[t * V + best]!) best = v;
          argmax.push(best);
          ref.vocab_ids.forEach((v, i) => {
            maxAbs = Math.max(maxAbs, Math.abs(all[t * V + v]! - ref.logits[t]![i]!));
          });
        }
        console.log(
          `SmolLM2 GGUF (keepQuantized ${keepQuantized}): load ${loadSeconds.toFixed(2)} s, max abs logit diff ${maxAbs.toExponential(2)} over ${T}x${ref.vocab_ids.length}`,
        );
        expect(argmax).toEqual(ref.argmax);
        expect(maxAbs).toBeLessThan(1e-4);
        logits.dispose();
        model.dispose();
      },
    );
  },
);
