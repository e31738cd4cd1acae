import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssetNotFoundError, FileFormatError, Rng } from '@lora/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Llama2cCheckpoint, readLlama2cCheckpoint } from './checkpoint.js';

// Real stories260K.bin from ../shared (never copied into the repo); broken variants go to a tmp dir.
const assets = process.env.LORA_ASSETS_DIR;
const skipReason = 'skipped: LORA_ASSETS_DIR is unset (point it at ../shared to run)';
if (assets === undefined) console.warn(`[llama2c checkpoint] ${skipReason}`);
const binPath = assets === undefined ? '' : join(assets, 'models', 'stories260K', 'stories260K.bin');

describe.skipIf(assets === undefined)(`readLlama2cCheckpoint on stories260K.bin${assets === undefined ? ` (${skipReason})` : ''}`, () => {
  let ckpt: Llama2cCheckpoint;
  let bytes: Buffer;
  let floats: Float32Array;
  let tmp: string;
  beforeAll(async () => {
    ckpt = await readLlama2cCheckpoint(binPath);
    bytes = readFileSync(binPath);
    floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 28, bytes.byteOffset + bytes.byteLength));
    tmp = mkdtempSync(join(tmpdir(), 'llama2c-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** Writes `data` into the tmp dir and returns the path. */
  const variant = (name: string, data: Uint8Array): string => {
    const path = join(tmp, name);
    writeFileSync(path, data);
    return path;
  };

  it('maps the header to a Llama config.json (values from SOURCE.txt)', () => {
    expect(ckpt.header).toEqual({
      dim: 64,
      hiddenDim: 172,
      nLayers: 5,
      nHeads: 8,
      nKvHeads: 4,
      vocabSize: 512,
      seqLen: 512,
      sharedClassifier: true,
    });
    expect(ckpt.config).toMatchObject({
      model_type: 'llama',
      hidden_size: 64,
      intermediate_size: 172,
      num_hidden_layers: 5,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      head_dim: 8,
      vocab_size: 512,
      max_position_embeddings: 512,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 2,
      hidden_act: 'silu',
    });
  });

  it('names and shapes every weight as HF LlamaForCausalLM does', () => {
    const keys = ckpt.weights.keys();
    expect(keys).toHaveLength(1 + 5 * 9 + 1);
    expect(ckpt.weights.has('lm_head.weight')).toBe(false);
    expect(ckpt.weights.shape('model.embed_tokens.weight')).toEqual([512, 64]);
    expect(ckpt.weights.shape('model.norm.weight')).toEqual([64]);
    for (let l = 0; l < 5; l++) {
      const p = `model.layers.${l}`;
      expect(ckpt.weights.shape(`${p}.self_attn.q_proj.weight`)).toEqual([64, 64]);
      expect(ckpt.weights.shape(`${p}.self_attn.k_proj.weight`)).toEqual([32, 64]);
      expect(ckpt.weights.shape(`${p}.self_attn.v_proj.weight`)).toEqual([32, 64]);
      expect(ckpt.weights.shape(`${p}.self_attn.o_proj.weight`)).toEqual([64, 64]);
      expect(ckpt.weights.shape(`${p}.mlp.gate_proj.weight`)).toEqual([172, 64]);
      expect(ckpt.weights.shape(`${p}.mlp.up_proj.weight`)).toEqual([172, 64]);
      expect(ckpt.weights.shape(`${p}.mlp.down_proj.weight`)).toEqual([64, 172]);
      expect(ckpt.weights.shape(`${p}.input_layernorm.weight`)).toEqual([64]);
      expect(ckpt.weights.shape(`${p}.post_attention_layernorm.weight`)).toEqual([64]);
    }
    // Everything but the two unused RoPE tables (2 × seq_len × head_dim / 2 floats) is a weight.
    let total = 0;
    for (const k of keys) total += ckpt.weights.shape(k).reduce((a, b) => a * b, 1);
    expect(total + 512 * 8).toBe(floats.length);
  });

  it('keeps unpermuted blocks bit-exact and in [out, in] layout', async () => {
    const emb = await ckpt.weights.get('model.embed_tokens.weight');
    expect(emb.data).toEqual(floats.subarray(0, 512 * 64));
    const attNorm0 = await ckpt.weights.get('model.layers.0.input_layernorm.weight');
    expect(attNorm0.data).toEqual(floats.subarray(512 * 64, 512 * 64 + 64));
    const last = await ckpt.weights.get('model.norm.weight');
    const end = floats.length - 512 * 8;
    expect(last.data).toEqual(floats.subarray(end - 64, end));
  });

  it('turns interleaved RoPE into rotate-half RoPE without changing attention scores', async () => {
    // llama2.c's q/k for layer 0 straight from the file, rotated as run.c does (pairs 2i, 2i+1),
    // against the converted q_proj/k_proj rotated as HF does (pairs i, i + hd/2).
    const dim = 64,
      hd = 8,
      kvDim = 32,
      pos = 7;
    const qOff = 512 * 64 + 5 * 64;
    const kOff = qOff + 5 * 64 * 64;
    const rng = new Rng(1);
    const x = Array.from({ length: dim }, () => rng.next() * 2 - 1);
    const matvec = (w: Float32Array, rows: number): number[] =>
      Array.from({ length: rows }, (_, r) => x.reduce((s, xi, c) => s + (w[r * dim + c] ?? 0) * xi, 0));
    const angle = (i: number): number => pos / 10000 ** ((2 * i) / hd);
    const ropeInterleaved = (v: number[]): number[] => {
      const out = [...v];
      for (let h = 0; h < v.length / hd; h++) {
        for (let i = 0; i < hd / 2; i++) {
          const a = v[h * hd + 2 * i] ?? 0,
            b = v[h * hd + 2 * i + 1] ?? 0,
            t = angle(i);
          out[h * hd + 2 * i] = a * Math.cos(t) - b * Math.sin(t);
          out[h * hd + 2 * i + 1] = a * Math.sin(t) + b * Math.cos(t);
        }
      }
      return out;
    };
    const ropeHalf = (v: number[]): number[] => {
      const out = [...v];
      for (let h = 0; h < v.length / hd; h++) {
        for (let i = 0; i < hd / 2; i++) {
          const a = v[h * hd + i] ?? 0,
            b = v[h * hd + i + hd / 2] ?? 0,
            t = angle(i);
          out[h * hd + i] = a * Math.cos(t) - b * Math.sin(t);
          out[h * hd + i + hd / 2] = b * Math.cos(t) + a * Math.sin(t);
        }
      }
      return out;
    };
    const qRef = ropeInterleaved(matvec(floats.subarray(qOff, qOff + dim * dim), dim));
    const kRef = ropeInterleaved(matvec(floats.subarray(kOff, kOff + kvDim * dim), kvDim));
    const qHf = ropeHalf(matvec((await ckpt.weights.get('model.layers.0.self_attn.q_proj.weight')).data as Float32Array, dim));
    const kHf = ropeHalf(matvec((await ckpt.weights.get('model.layers.0.self_attn.k_proj.weight')).data as Float32Array, kvDim));
    const dot = (q: number[], k: number[], h: number): number => {
      const kh = Math.floor(h / 2); // GQA: 2 query heads per kv head
      let s = 0;
      for (let d = 0; d < hd; d++) s += (q[h * hd + d] ?? 0) * (k[kh * hd + d] ?? 0);
      return s;
    };
    for (let h = 0; h < 8; h++) expect(dot(qHf, kHf, h)).toBeCloseTo(dot(qRef, kRef, h), 12);
    // and the rotated vectors are the same numbers, reordered within each head
    expect([...qHf].sort()).toEqual([...qRef].sort());
  });

  it('reads an unshared classifier when vocab_size is negative', async () => {
    const copy = new Uint8Array(bytes.length + 512 * 64 * 4);
    copy.set(bytes);
    copy.set(bytes.subarray(28, 28 + 512 * 64 * 4), bytes.length); // wcls = embeddings
    new DataView(copy.buffer).setInt32(20, -512, true);
    const unshared = await readLlama2cCheckpoint(variant('unshared.bin', copy));
    expect(unshared.config.tie_word_embeddings).toBe(false);
    expect(unshared.weights.shape('lm_head.weight')).toEqual([512, 64]);
    expect((await unshared.weights.get('lm_head.weight')).data).toEqual(floats.subarray(0, 512 * 64));
    // the same bytes with a positive vocab_size: trailing classifier detected, fix suggested
    new DataView(copy.buffer).setInt32(20, 512, true);
    await expect(readLlama2cCheckpoint(variant('sign.bin', copy))).rejects.toThrow(/vocab_size should be negative/);
  });

  it('names the block a truncated file cuts into', async () => {
    const cases: [number, RegExp][] = [
      [10, /\(header\).*fewer than the 28-byte header/],
      [28 + 100, /\(token_embedding_table\)/],
      [28 + (512 * 64 + 10) * 4, /\(rms_att_weight\)/],
      [28 + (512 * 64 + 5 * 64 + 5 * 64 * 64 + 1) * 4, /\(wk\)/],
      [bytes.length - 4 * (512 * 8) - 4, /\(rms_final_weight\)/],
      [bytes.length - 4, /\(freq_cis_imag\)/],
    ];
    for (const [size, pattern] of cases) {
      const path = variant(`cut-${size}.bin`, bytes.subarray(0, size));
      const error = await readLlama2cCheckpoint(path).catch((e: unknown) => e);
      expect(FileFormatError.isInstance(error), `size ${size}`).toBe(true);
      expect((error as Error).message).toContain(path);
      expect((error as Error).message).toMatch(pattern);
    }
  });

  it('rejects trailing bytes, bad headers, versioned exports and missing files', async () => {
    const padded = new Uint8Array(bytes.length + 4);
    padded.set(bytes);
    await expect(readLlama2cCheckpoint(variant('padded.bin', padded))).rejects.toThrow(/\(size\).*4 trailing bytes/);
    const badHeads = Uint8Array.from(bytes);
    new DataView(badHeads.buffer).setInt32(12, 7, true); // n_heads 7 does not divide dim 64
    await expect(readLlama2cCheckpoint(variant('heads.bin', badHeads))).rejects.toThrow(/header\.n_heads/);
    const zeroLayers = Uint8Array.from(bytes);
    new DataView(zeroLayers.buffer).setInt32(8, 0, true);
    await expect(readLlama2cCheckpoint(variant('layers.bin', zeroLayers))).rejects.toThrow(/header\.n_layers.*must be positive/);
    const versioned = Uint8Array.from(bytes);
    new DataView(versioned.buffer).setUint32(0, 0x616b3432, true);
    await expect(readLlama2cCheckpoint(variant('v1.bin', versioned))).rejects.toThrow(/version 1\/2/);
    const missing = await readLlama2cCheckpoint(join(tmp, 'nope.bin')).catch((e: unknown) => e);
    expect(AssetNotFoundError.isInstance(missing)).toBe(true);
  });
});
