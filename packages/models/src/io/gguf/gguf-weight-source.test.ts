import { describe, expect, it } from 'vitest';
import { MemoryFileSource } from '../file-source.js';
import { GgufWeightSource } from './gguf-weight-source.js';
import { ggufToHfTensorName } from './tensor-names.js';

/** A minimal GGUF v3 with F32 tensors (`dims` fastest-first) and string/u32 metadata. */
function gguf(metadata: Record<string, string | number>, tensors: { name: string; dims: number[]; data: number[] }[]): Uint8Array {
  const out: number[] = [];
  const u32 = (v: number) => {
    for (let i = 0; i < 4; i++) out.push((v >>> (8 * i)) & 0xff);
  };
  const u64 = (v: number) => {
    u32(v);
    u32(0);
  };
  const str = (s: string) => {
    const e = new TextEncoder().encode(s);
    u64(e.length);
    out.push(...e);
  };
  u32(0x46554747);
  u32(3);
  u64(tensors.length);
  u64(Object.keys(metadata).length);
  for (const [k, v] of Object.entries(metadata)) {
    str(k);
    if (typeof v === 'string') {
      u32(8);
      str(v);
    } else {
      u32(4);
      u32(v);
    }
  }
  let offset = 0;
  for (const t of tensors) {
    str(t.name);
    u32(t.dims.length);
    t.dims.forEach(u64);
    u32(0);
    u64(offset);
    offset += Math.ceil((t.data.length * 4) / 32) * 32;
  }
  while (out.length % 32 !== 0) out.push(0);
  for (const t of tensors) {
    out.push(...new Uint8Array(Float32Array.from(t.data).buffer));
    while (out.length % 32 !== 0) out.push(0);
  }
  return Uint8Array.from(out);
}

// 2 heads of head_dim 4: rows in llama.cpp's interleaved order (per head: pairs (i, i + 2) adjacent)
const Q_ROWS = 8;
const q = Array.from({ length: Q_ROWS * 2 }, (_, i) => i); // [8 rows, 2 cols]

describe('GgufWeightSource fix-ups', () => {
  it('llama: q/k rows back to rotate-half order, per head', async () => {
    const bytes = gguf({ 'general.architecture': 'llama', 'llama.attention.head_count': 2, 'llama.attention.head_count_kv': 1 }, [
      { name: 'blk.0.attn_q.weight', dims: [2, Q_ROWS], data: q },
      { name: 'blk.0.attn_k.weight', dims: [2, 4], data: q.slice(0, 8) },
      { name: 'blk.0.attn_v.weight', dims: [2, 4], data: q.slice(0, 8) },
    ]);
    const w = await GgufWeightSource.open(new MemoryFileSource(bytes, 'l.gguf'));
    const row = (data: Float32Array, r: number) => data[r * 2];
    const qw = (await w.get('model.layers.0.self_attn.q_proj.weight')).data as Float32Array;
    // GGUF row h*4 + 2i + j ← HF row h*4 + j*2 + i
    expect(Array.from({ length: 8 }, (_, r) => row(qw, r))).toEqual([0, 4, 2, 6, 8, 12, 10, 14]);
    const kw = (await w.get('model.layers.0.self_attn.k_proj.weight')).data as Float32Array;
    expect(Array.from({ length: 4 }, (_, r) => row(kw, r))).toEqual([0, 4, 2, 6]);
    const vw = (await w.get('model.layers.0.self_attn.v_proj.weight')).data as Float32Array;
    expect(Array.from({ length: 4 }, (_, r) => row(vw, r))).toEqual([0, 2, 4, 6]);
    expect(w.shape('model.layers.0.self_attn.q_proj.weight')).toEqual([8, 2]);
  });

  it('gemma3: no permutation, norms minus 1, ffn_norm is the pre-feedforward norm', async () => {
    const bytes = gguf({ 'general.architecture': 'gemma3', 'gemma3.attention.head_count': 2 }, [
      { name: 'blk.0.attn_q.weight', dims: [2, Q_ROWS], data: q },
      { name: 'blk.0.ffn_norm.weight', dims: [3], data: [1, 1.5, 0.25] },
      { name: 'blk.0.attn_q_norm.weight', dims: [2], data: [2, 1e-8] },
      { name: 'blk.0.post_ffw_norm.weight', dims: [1], data: [0] },
    ]);
    const w = await GgufWeightSource.open(new MemoryFileSource(bytes, 'g.gguf'));
    expect(Array.from((await w.get('model.layers.0.self_attn.q_proj.weight')).data)).toEqual(q);
    expect(Array.from((await w.get('model.layers.0.pre_feedforward_layernorm.weight')).data)).toEqual([0, 0.5, -0.75]);
    expect(Array.from((await w.get('model.layers.0.self_attn.q_norm.weight')).data)).toEqual([1, Math.fround(1e-8 - 1)]);
    expect(Array.from((await w.get('model.layers.0.post_feedforward_layernorm.weight')).data)).toEqual([-1]);
  });

  it('maps llama.cpp names per architecture', () => {
    expect(ggufToHfTensorName('token_embd.weight', 'llama')).toBe('model.embed_tokens.weight');
    expect(ggufToHfTensorName('output.weight', 'qwen3')).toBe('lm_head.weight');
    expect(ggufToHfTensorName('output_norm.weight', 'gemma3')).toBe('model.norm.weight');
    expect(ggufToHfTensorName('blk.12.ffn_down.weight', 'llama')).toBe('model.layers.12.mlp.down_proj.weight');
    expect(ggufToHfTensorName('blk.0.attn_q.bias', 'qwen2')).toBe('model.layers.0.self_attn.q_proj.bias');
    expect(ggufToHfTensorName('blk.0.attn_k_norm.weight', 'qwen3')).toBe('model.layers.0.self_attn.k_norm.weight');
    expect(ggufToHfTensorName('blk.0.ffn_norm.weight', 'qwen3')).toBe('model.layers.0.post_attention_layernorm.weight');
    expect(ggufToHfTensorName('blk.0.post_attention_norm.weight', 'gemma3')).toBe('model.layers.0.post_attention_layernorm.weight');
    expect(ggufToHfTensorName('blk.0.post_attention_norm.weight', 'llama')).toBeUndefined();
    expect(ggufToHfTensorName('rope_freqs.weight', 'llama')).toBeUndefined();
  });
});
