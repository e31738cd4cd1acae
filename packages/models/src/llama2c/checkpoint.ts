import { FileFormatError } from '@lora/core';
import { MemoryWeightSource, type HostTensor } from '../io/host-tensor.js';
import type { FileSource } from '../io/file-source.js';
import { readBytes } from './read-bytes.js';

/**
 * The seven int32 header fields of a legacy (version 0) llama2.c checkpoint, as run.c reads them.
 * `vocabSize` is the absolute value; the sign is reported as `sharedClassifier`.
 */
export interface Llama2cHeader {
  /** Transformer width (`dim`). */
  readonly dim: number;
  /** Feed-forward width (`hidden_dim`). */
  readonly hiddenDim: number;
  /** Number of decoder layers (`n_layers`). */
  readonly nLayers: number;
  /** Number of query heads (`n_heads`). */
  readonly nHeads: number;
  /** Number of key/value heads (`n_kv_heads`). */
  readonly nKvHeads: number;
  /** Vocabulary size (absolute value of the stored field). */
  readonly vocabSize: number;
  /** Maximum sequence length (`seq_len`). */
  readonly seqLen: number;
  /** True when the classifier is the token embedding (stored `vocab_size` positive). */
  readonly sharedClassifier: boolean;
}

/**
 * A Hugging Face `config.json`-shaped object for `LlamaForCausalLM` (transformers v4 keys, which
 * the config parser also accepts), describing a converted llama2.c checkpoint.
 */
export interface Llama2cHfConfig {
  readonly architectures: readonly ['LlamaForCausalLM'];
  readonly model_type: 'llama';
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  readonly num_key_value_heads: number;
  readonly head_dim: number;
  readonly vocab_size: number;
  readonly max_position_embeddings: number;
  readonly rms_norm_eps: number;
  readonly rope_theta: number;
  readonly tie_word_embeddings: boolean;
  readonly bos_token_id: number;
  readonly eos_token_id: number;
  readonly hidden_act: 'silu';
  readonly attention_bias: false;
  readonly mlp_bias: false;
  readonly attention_dropout: number;
  readonly initializer_range: number;
  readonly pretraining_tp: 1;
  readonly use_cache: true;
  readonly torch_dtype: 'float32';
}

/** What {@link readLlama2cCheckpoint} returns. */
export interface Llama2cCheckpoint {
  /** The header as stored in the file. */
  readonly header: Llama2cHeader;
  /** `config.json`-shaped description; feed it to the model-config parser. */
  readonly config: Llama2cHfConfig;
  /** Weights keyed by HF `LlamaForCausalLM` names, `[out, in]` layout, q/k permuted to rotate-half RoPE. */
  readonly weights: MemoryWeightSource;
}

const headerFields = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'] as const;
const headerBytes = headerFields.length * 4;
/** Magic of llama2.c's newer `export.py --version 1/2` files ("ak42" little-endian). */
const versionedMagic = 0x616b3432;

/** One contiguous run of float32 values in the file, in run.c's `memory_map_weights` order. */
interface Block {
  readonly name: string;
  /** Number of floats per layer (or in total for non-layer blocks). */
  readonly floats: number;
  /** Layer-stacked blocks hold `nLayers` consecutive per-layer matrices. */
  readonly perLayer: boolean;
}

function layout(h: Llama2cHeader): Block[] {
  const headDim = h.dim / h.nHeads;
  const kvDim = headDim * h.nKvHeads;
  const blocks: Block[] = [
    { name: 'token_embedding_table', floats: h.vocabSize * h.dim, perLayer: false },
    { name: 'rms_att_weight', floats: h.dim, perLayer: true },
    { name: 'wq', floats: h.dim * h.dim, perLayer: true },
    { name: 'wk', floats: kvDim * h.dim, perLayer: true },
    { name: 'wv', floats: kvDim * h.dim, perLayer: true },
    { name: 'wo', floats: h.dim * h.dim, perLayer: true },
    { name: 'rms_ffn_weight', floats: h.dim, perLayer: true },
    { name: 'w1', floats: h.hiddenDim * h.dim, perLayer: true },
    { name: 'w2', floats: h.dim * h.hiddenDim, perLayer: true },
    { name: 'w3', floats: h.hiddenDim * h.dim, perLayer: true },
    { name: 'rms_final_weight', floats: h.dim, perLayer: false },
    // Unused precomputed RoPE tables, still present in version-0 files.
    { name: 'freq_cis_real', floats: (h.seqLen * headDim) / 2, perLayer: false },
    { name: 'freq_cis_imag', floats: (h.seqLen * headDim) / 2, perLayer: false },
  ];
  if (!h.sharedClassifier) blocks.push({ name: 'wcls', floats: h.vocabSize * h.dim, perLayer: false });
  return blocks;
}

function parseHeader(bytes: Uint8Array, file: string): Llama2cHeader {
  if (bytes.byteLength < headerBytes) {
    throw new FileFormatError({
      file,
      field: 'header',
      message: `file has ${bytes.byteLength} bytes, fewer than the ${headerBytes}-byte header of 7 int32 (${headerFields.join(', ')}); is this a llama2.c checkpoint?`,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerBytes);
  if (view.getUint32(0, true) === versionedMagic) {
    throw new FileFormatError({
      file,
      field: 'header',
      message:
        'this is a versioned llama2.c export (magic "ak42", export.py --version 1/2); only the legacy version-0 format that run.c reads is supported. Re-export with `python export.py out.bin --version 0 --checkpoint ckpt.pt`.',
    });
  }
  const v = headerFields.map((_, i) => view.getInt32(i * 4, true));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = v as [number, number, number, number, number, number, number];
  const bad = (field: string, message: string): never => {
    throw new FileFormatError({ file, field: `header.${field}`, message: `${message} (header: ${v.join(', ')})` });
  };
  for (const [i, name] of headerFields.entries()) {
    if (name !== 'vocab_size' && (v[i] ?? 0) <= 0) bad(name, `must be positive, got ${v[i]}`);
  }
  if (vocab === 0) bad('vocab_size', 'must be non-zero (negative means an unshared classifier)');
  if (dim % nHeads !== 0) bad('n_heads', `dim ${dim} is not divisible by n_heads ${nHeads}`);
  if (nHeads % nKvHeads !== 0) bad('n_kv_heads', `n_heads ${nHeads} is not divisible by n_kv_heads ${nKvHeads}`);
  if ((dim / nHeads) % 2 !== 0) bad('n_heads', `head size ${dim / nHeads} must be even for RoPE`);
  return { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocab), seqLen, sharedClassifier: vocab > 0 };
}

/**
 * Reorders the rows of a `[nHeads·headDim, inDim]` projection from llama2.c's interleaved RoPE
 * pairs `(2i, 2i+1)` to Hugging Face's rotate-half pairs `(i, i + headDim/2)`: within each head,
 * new row `j·headDim/2 + i` is old row `2i + j` — the `permute` of transformers'
 * `convert_llama_weights_to_hf`. q·k scores are unchanged, so an HF decoder reproduces run.c.
 * `inDim` is the length of a row in elements of `w`: the bytes of a row of ggml blocks work too.
 */
export function interleavedToRotateHalf<T extends Float32Array | Uint8Array>(w: T, nHeads: number, inDim: number): T {
  const headDim = w.length / inDim / nHeads;
  const half = headDim / 2;
  const out = (w instanceof Float32Array ? new Float32Array(w.length) : new Uint8Array(w.length)) as T;
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = (h * headDim + 2 * i + j) * inDim;
        const to = (h * headDim + j * half + i) * inDim;
        out.set(w.subarray(from, from + inDim), to);
      }
    }
  }
  return out;
}

/**
 * Parses a legacy llama2.c checkpoint already in memory. See {@link readLlama2cCheckpoint}.
 *
 * @param bytes - the whole file.
 * @param file - path or name used in error messages.
 */
export function parseLlama2cCheckpoint(bytes: Uint8Array, file: string): Llama2cCheckpoint {
  const header = parseHeader(bytes, file);
  const blocks = layout(header);
  const L = header.nLayers;
  // Size check first, naming the first block that does not fit.
  let end = headerBytes;
  for (const block of blocks) {
    const size = block.floats * (block.perLayer ? L : 1) * 4;
    if (end + size > bytes.byteLength) {
      throw new FileFormatError({
        file,
        field: block.name,
        message: `file is ${bytes.byteLength} bytes but block \`${block.name}\` needs bytes ${end}..${end + size}; the file is truncated or its header (${describe(header)}) is wrong.`,
      });
    }
    end += size;
  }
  if (end !== bytes.byteLength) {
    const hint =
      header.sharedClassifier && bytes.byteLength - end === header.vocabSize * header.dim * 4
        ? ' The extra bytes are exactly one [vocab, dim] classifier: the header vocab_size should be negative for an unshared classifier.'
        : '';
    throw new FileFormatError({
      file,
      field: 'size',
      message: `file is ${bytes.byteLength} bytes but the header (${describe(header)}) describes ${end}; ${bytes.byteLength - end} trailing bytes.${hint}`,
    });
  }

  // Copy into an aligned buffer once (readFile's Buffer may start at any byte offset; note that
  // Buffer#slice is a view, not a copy).
  const floats = new Float32Array((bytes.byteLength - headerBytes) / 4);
  new Uint8Array(floats.buffer).set(bytes.subarray(headerBytes));
  const raw = new Map<string, Float32Array[]>();
  let at = 0;
  for (const block of blocks) {
    const parts: Float32Array[] = [];
    for (let l = 0; l < (block.perLayer ? L : 1); l++) {
      parts.push(floats.subarray(at, at + block.floats));
      at += block.floats;
    }
    raw.set(block.name, parts);
  }
  const part = (name: string, layer = 0): Float32Array => raw.get(name)?.[layer] ?? new Float32Array(0);

  const { dim, hiddenDim, nHeads, nKvHeads, vocabSize } = header;
  const kvDim = (dim / nHeads) * nKvHeads;
  const tensors = new Map<string, HostTensor>();
  const put = (name: string, shape: number[], data: Float32Array): void => {
    tensors.set(name, { dtype: 'float32', shape, data });
  };
  put('model.embed_tokens.weight', [vocabSize, dim], part('token_embedding_table'));
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    put(`${p}.self_attn.q_proj.weight`, [dim, dim], interleavedToRotateHalf(part('wq', l), nHeads, dim));
    put(`${p}.self_attn.k_proj.weight`, [kvDim, dim], interleavedToRotateHalf(part('wk', l), nKvHeads, dim));
    put(`${p}.self_attn.v_proj.weight`, [kvDim, dim], part('wv', l));
    put(`${p}.self_attn.o_proj.weight`, [dim, dim], part('wo', l));
    put(`${p}.mlp.gate_proj.weight`, [hiddenDim, dim], part('w1', l));
    put(`${p}.mlp.up_proj.weight`, [hiddenDim, dim], part('w3', l));
    put(`${p}.mlp.down_proj.weight`, [dim, hiddenDim], part('w2', l));
    put(`${p}.input_layernorm.weight`, [dim], part('rms_att_weight', l));
    put(`${p}.post_attention_layernorm.weight`, [dim], part('rms_ffn_weight', l));
  }
  put('model.norm.weight', [dim], part('rms_final_weight'));
  if (!header.sharedClassifier) put('lm_head.weight', [vocabSize, dim], part('wcls'));

  return { header, config: toHfConfig(header), weights: new MemoryWeightSource(tensors, file) };
}

function describe(h: Llama2cHeader): string {
  return `dim ${h.dim}, hidden_dim ${h.hiddenDim}, n_layers ${h.nLayers}, n_heads ${h.nHeads}, n_kv_heads ${h.nKvHeads}, vocab_size ${h.sharedClassifier ? '' : '-'}${h.vocabSize}, seq_len ${h.seqLen}`;
}

function toHfConfig(h: Llama2cHeader): Llama2cHfConfig {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: h.dim,
    intermediate_size: h.hiddenDim,
    num_hidden_layers: h.nLayers,
    num_attention_heads: h.nHeads,
    num_key_value_heads: h.nKvHeads,
    head_dim: h.dim / h.nHeads,
    vocab_size: h.vocabSize,
    max_position_embeddings: h.seqLen,
    // run.c hard-codes these three.
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: 'silu',
    tie_word_embeddings: h.sharedClassifier,
    bos_token_id: 1,
    eos_token_id: 2,
    attention_bias: false,
    mlp_bias: false,
    attention_dropout: 0,
    initializer_range: 0.02,
    pretraining_tp: 1,
    use_cache: true,
    torch_dtype: 'float32',
  };
}

/**
 * Reads a legacy (version 0) llama2.c checkpoint — the `.bin` that `run.c` loads: a header of 7
 * int32 (`dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len`; a negative
 * `vocab_size` means an unshared classifier follows) and the float32 blocks in run.c's order.
 * The file size is checked exactly. The whole file is read into memory (these checkpoints are
 * small; little-endian hosts only, like run.c's mmap). `file` is a path or a `FileSource`
 * (browser `Blob`, bytes in memory), which is left open.
 *
 * Returns a `config.json`-shaped config for `model_type: "llama"` and the weights under HF
 * `LlamaForCausalLM` names in `[out, in]` layout. `wq`/`wk` rows are permuted from llama2.c's
 * interleaved RoPE to HF's rotate-half convention, so an HF Llama decoder reproduces run.c.
 *
 * @throws FileFormatError naming the file and the header field or weight block that is wrong;
 *   AssetNotFoundError when the file does not exist.
 * @example
 * ```ts
 * const { config, weights } = await readLlama2cCheckpoint('stories260K/stories260K.bin');
 * const model = createCausalLM(parseModelConfig(config, { file: 'stories260K.bin' }), weights);
 * ```
 */
export async function readLlama2cCheckpoint(file: string | FileSource): Promise<Llama2cCheckpoint> {
  const { bytes, name } = await readBytes(file);
  return parseLlama2cCheckpoint(bytes, name);
}
