import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadTokenizer } from '@lora/data';
import { loadModel, selectBackend } from '@lora/models';
import { openCheckpoint } from '@lora/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../testing.js';

// The whole round trip through transformers (SmolLM2 logits equal to transformers' own GGUF load,
// stories260K greedy text equal to run.c's) is tools/parity/convert/check_convert.py; here the
// converted folder is checked against the source with @lora itself.
const assets = process.env.LORA_ASSETS_DIR;
const haveStories = assets !== undefined && existsSync(join(assets, 'models', 'stories260K'));
const haveSmol = assets !== undefined && existsSync(join(assets, 'models', 'SmolLM2-135M-Instruct'));
const env = { LORA_ASSETS_DIR: assets, HF_HUB_OFFLINE: '1' };
const FIXTURES = join(import.meta.dirname, '../../../data/fixtures/gguf');
const TEXTS = ['Once upon a time, there was a dog.', ' two  spaces\nand a newline', 'émoji 🚗 and 汽车', ''];

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-convert-'));
  await selectBackend({ backend: (process.env.LORA_TEST_BACKEND ?? 'wasm') as 'wasm', silent: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function logits(path: string, ids: number[]): Promise<Float32Array> {
  const { model } = await loadModel(path);
  try {
    const out = tf.tidy(() => model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')));
    const data = (await out.data()) as Float32Array;
    out.dispose();
    return data;
  } finally {
    model.dispose();
  }
}

describe('lora convert', () => {
  it.skipIf(!haveStories)('writes stories260K (llama2.c) as a Hugging Face folder with the same logits and token ids', async () => {
    const out = join(dir, 'stories');
    const { code, stdout, stderr } = await runCaptured(['convert', 'stories260K', '--out', out], env);
    expect(stderr).not.toContain('unexpected');
    expect(code).toBe(0);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
      expect(stdout).toContain(join(out, f));
    }
    const source = join(assets as string, 'models', 'stories260K');
    // The converted tokenizer is the SentencePiece BPE transformers builds from tok512's pieces: its
    // ids equal transformers' on the 315 strings of the @lora/data fixture (run.c's own encoder
    // differs from it on runs of spaces; fixtures/llama2c/encode.json).
    const tokenizer = await loadTokenizer(out);
    const reference = JSON.parse(readFileSync(join(FIXTURES, 'stories260k.json'), 'utf8')) as {
      texts: string[];
      ids: number[][];
      idsPlain: number[][];
    };
    reference.texts.forEach((text, i) => {
      expect(tokenizer.encode(text), text).toEqual(reference.ids[i]);
      expect(tokenizer.encode(text, { addSpecialTokens: false }), text).toEqual(reference.idsPlain[i]);
    });
    const ids = tokenizer.encode('Once upon a time, there was a little girl');
    expect(ids[0]).toBe(1); // BOS, as llama2.c and Llama-2's tokenizer add it
    expect(ids).toEqual((await loadTokenizer(source, { vocabSize: 512 })).encode('Once upon a time, there was a little girl'));
    expect(await logits(out, ids)).toEqual(await logits(source, ids));
  });

  it.skipIf(!haveSmol)('writes SmolLM2 (GGUF Q4_1) with the dequantized tensors, its tokenizer and chat template', async () => {
    const out = join(dir, 'smol');
    const { code } = await runCaptured(['convert', 'SmolLM2-135M-Instruct', '--out', out], env);
    expect(code).toBe(0);
    const gguf = await openCheckpoint(join(assets as string, 'models', 'SmolLM2-135M-Instruct'));
    const hf = await openCheckpoint(out);
    try {
      expect([...hf.weights.keys()].sort()).toEqual([...gguf.weights.keys()].sort());
      for (const name of [
        'model.embed_tokens.weight',
        'model.layers.0.self_attn.q_proj.weight',
        'model.layers.29.self_attn.k_proj.weight',
        'model.norm.weight',
      ]) {
        const [x, y] = [await gguf.weights.get(name), await hf.weights.get(name)];
        expect(y.shape).toEqual(x.shape);
        expect(Buffer.from(y.data.buffer).equals(Buffer.from(x.data.buffer))).toBe(true);
      }
      expect({ ...hf.configJson, torch_dtype: undefined, dtype: undefined }).toEqual({
        ...gguf.configJson,
        torch_dtype: undefined,
        dtype: undefined,
      });
    } finally {
      await gguf.weights.close();
      await hf.weights.close();
    }
    const [a, b] = [await loadTokenizer(join(assets as string, 'models', 'SmolLM2-135M-Instruct')), await loadTokenizer(out)];
    for (const text of [...TEXTS, '<|im_start|>user\nHi<|im_end|>']) expect(b.encode(text)).toEqual(a.encode(text));
    expect(b.settings.chatTemplates).toEqual(a.settings.chatTemplates);
    expect(b.eosTokenIds).toEqual(a.eosTokenIds);
    const config = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.chat_template).toContain('<|im_start|>');
  });

  it('refuses a non-empty output folder unless --overwrite, and a Hugging Face folder as input', async () => {
    const busy = join(dir, 'busy');
    mkdirSync(busy, { recursive: true });
    writeFileSync(join(busy, 'keep.txt'), 'mine');
    const refused = await runCaptured(['convert', join(dir, 'nothing-here.gguf'), '--out', busy], { ...env, LORA_ASSETS_DIR: dir });
    expect(refused.code).toBe(1);
    const hfDir = join(dir, 'hf');
    mkdirSync(hfDir, { recursive: true });
    writeFileSync(join(hfDir, 'config.json'), JSON.stringify({ model_type: 'llama' }));
    writeFileSync(join(hfDir, 'model.safetensors'), Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]));
    const notEmpty = await runCaptured(['convert', hfDir, '--out', busy], env);
    expect(notEmpty.code).toBe(1);
    expect(notEmpty.stderr).toMatch(/busy is not empty \(keep\.txt\); pass --overwrite/);
    const already = await runCaptured(['convert', hfDir, '--out', join(dir, 'fresh'), '--overwrite'], env);
    expect(already.code).toBe(1);
    expect(already.stderr).toContain('is already a Hugging Face folder');
    expect(readFileSync(join(busy, 'keep.txt'), 'utf8')).toBe('mine');
  });
});
