// llama.cpp tensor names (gguf-py `gguf/constants.py`, TENSOR_NAMES) → Hugging Face module paths.
// `ffn_norm` is the norm before the MLP: `post_attention_layernorm` in Llama/Qwen (which have no
// post-attention norm), `pre_feedforward_layernorm` in Gemma 3 (which has both).

const BLOCK_COMMON: Readonly<Record<string, string>> = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  attn_q_norm: 'self_attn.q_norm',
  attn_k_norm: 'self_attn.k_norm',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};

const BLOCK_BY_ARCH: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  gemma3: {
    ...BLOCK_COMMON,
    post_attention_norm: 'post_attention_layernorm',
    ffn_norm: 'pre_feedforward_layernorm',
    post_ffw_norm: 'post_feedforward_layernorm',
  },
};

const BLOCK_DEFAULT: Readonly<Record<string, string>> = { ...BLOCK_COMMON, ffn_norm: 'post_attention_layernorm' };

const GLOBAL: Readonly<Record<string, string>> = {
  token_embd: 'model.embed_tokens',
  output_norm: 'model.norm',
  output: 'lm_head',
};

const BLOCK = /^blk\.(\d+)\.([a-z0-9_]+)\.(weight|bias)$/;
const OTHER = /^([a-z0-9_]+)\.(weight|bias)$/;

/**
 * The Hugging Face name of a llama.cpp tensor (`blk.3.attn_q.weight` →
 * `model.layers.3.self_attn.q_proj.weight`) for GGUF architecture `arch` (`general.architecture`),
 * or `undefined` when the name is not one this importer maps.
 *
 * @example
 * ```ts
 * ggufToHfTensorName('blk.0.ffn_norm.weight', 'llama');  // 'model.layers.0.post_attention_layernorm.weight'
 * ggufToHfTensorName('blk.0.ffn_norm.weight', 'gemma3'); // 'model.layers.0.pre_feedforward_layernorm.weight'
 * ```
 */
export function ggufToHfTensorName(name: string, arch: string): string | undefined {
  const block = BLOCK.exec(name);
  if (block !== null) {
    const [, layer, part, suffix] = block;
    const hf = (BLOCK_BY_ARCH[arch] ?? BLOCK_DEFAULT)[part as string];
    return hf === undefined ? undefined : `model.layers.${layer}.${hf}.${suffix}`;
  }
  const other = OTHER.exec(name);
  if (other === null) return undefined;
  const hf = GLOBAL[other[1] as string];
  return hf === undefined ? undefined : `${hf}.${other[2]}`;
}
