import { FileFormatError } from '@lora/core';
import { readGguf, type GgufFile, type GgufTensorInfo } from '@lora/core/internal';
import { interleavedToRotateHalf } from '../../llama2c/checkpoint.js';
import { openFileSource, type FileSource } from '../file-source.js';
import type { HostTensor, WeightSource } from '../host-tensor.js';
import { dequantizeGgml } from './dequantize.js';
import { ggmlTypeInfo } from '@lora/core/internal';
import { ggufToHfTensorName } from './tensor-names.js';

/**
 * GGUF architectures whose q/k projection rows llama.cpp's converter permutes for interleaved
 * RoPE (`LlamaModel.permute` in convert_hf_to_gguf.py); transformers undoes it for `llama` only
 * (`LlamaTensorProcessor`), and llama.cpp writes Mistral models as `llama`. A file that says
 * `mistral` follows the same Llama conventions. Qwen and Gemma use rotate-half RoPE unpermuted.
 */
const PERMUTED_ARCHITECTURES = ['llama', 'mistral'];

/** GGUF tensors that are not weights of a Hugging Face module (they become config). */
const CONFIG_TENSORS = ['rope_freqs.weight'];

/** A metadata number, or a FileFormatError naming the key. */
function metaInt(gguf: GgufFile, key: string): number | undefined {
  const v = gguf.metadata[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new FileFormatError({ file: gguf.file, field: key, message: `expected a positive integer, found ${JSON.stringify(String(v))}` });
  }
  return v;
}

/**
 * The tensors of a GGUF file under their Hugging Face names, dequantized to float32 on read
 * (`model.embed_tokens.weight`, `model.layers.N.self_attn.q_proj.weight`, …, `lm_head.weight`),
 * in the HF `[out, in]` layout. Per-architecture fix-ups match transformers' GGUF loader: Llama
 * q/k rows are un-permuted back to rotate-half order; Gemma 3 norm weights (stored by llama.cpp as
 * `1 + w`) get 1 subtracted. Tensors it cannot map keep their GGUF name, so a strict model load
 * reports them instead of dropping them.
 *
 * @example
 * ```ts
 * const weights = await GgufWeightSource.open('SmolLM2-135M-Instruct.Q4_1.gguf');
 * const embed = await weights.get('model.embed_tokens.weight'); // float32 [49152, 576]
 * await weights.close();
 * ```
 */
export class GgufWeightSource implements WeightSource {
  private readonly byName: ReadonlyMap<string, GgufTensorInfo>;
  private readonly arch: string;
  private readonly permuteHeads: ReadonlyMap<string, number>;

  private constructor(
    private readonly source: FileSource,
    /** The parsed GGUF header. */
    readonly gguf: GgufFile,
  ) {
    const arch = gguf.metadata['general.architecture'];
    if (typeof arch !== 'string') {
      throw new FileFormatError({ file: gguf.file, field: 'general.architecture', message: 'missing or not a string' });
    }
    this.arch = arch;
    const byName = new Map<string, GgufTensorInfo>();
    for (const t of gguf.tensors) {
      if (CONFIG_TENSORS.includes(t.name)) continue;
      const hf = ggufToHfTensorName(t.name, arch) ?? t.name;
      if (byName.has(hf)) {
        throw new FileFormatError({ file: gguf.file, field: t.name, message: `two tensors map to "${hf}"` });
      }
      byName.set(hf, t);
    }
    this.byName = byName;
    const permute = new Map<string, number>();
    if (PERMUTED_ARCHITECTURES.includes(arch)) {
      const heads = metaInt(gguf, `${arch}.attention.head_count`);
      const kvHeads = metaInt(gguf, `${arch}.attention.head_count_kv`) ?? heads;
      for (const [hf, t] of byName) {
        if (/\.attn_q\.(weight|bias)$/.test(t.name) && heads !== undefined) permute.set(hf, heads);
        if (/\.attn_k\.(weight|bias)$/.test(t.name) && kvHeads !== undefined) permute.set(hf, kvHeads);
      }
    }
    this.permuteHeads = permute;
  }

  /**
   * Opens a GGUF file by path (Node) or any {@link FileSource} and reads its header; tensor data is
   * read per tensor by {@link GgufWeightSource.get}. The source is closed again if the header is
   * invalid.
   *
   * @throws `FileFormatError` naming the file (and key or tensor) for a malformed header.
   */
  static async open(source: string | FileSource): Promise<GgufWeightSource> {
    const file = typeof source === 'string' ? await openFileSource(source) : source;
    try {
      return new GgufWeightSource(file, await readGguf(file));
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** Path or name of the file, as used in error messages. */
  get file(): string {
    return this.source.name;
  }

  keys(): readonly string[] {
    return [...this.byName.keys()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Hugging Face shape (`[out, in]`): the GGUF dims reversed. */
  shape(name: string): readonly number[] {
    return [...this.info(name).dims].reverse();
  }

  /** The GGUF tensor info behind a Hugging Face name (type, dims, offset). */
  info(name: string): GgufTensorInfo {
    const t = this.byName.get(name);
    if (t === undefined) {
      throw new FileFormatError({
        file: this.file,
        field: name,
        message: `no tensor named "${name}" (the file has ${this.byName.size} tensors, named as in Hugging Face checkpoints)`,
      });
    }
    return t;
  }

  /**
   * Values of the `rope_freqs.weight` tensor (Llama 3 rope scaling factors, one per frequency), or
   * `undefined` when the file has none; `ggufToHfConfig` turns them back into `rope_scaling`. The
   * tensor is not among {@link GgufWeightSource.keys}: it is config, not a module weight.
   */
  async ropeFreqs(): Promise<Float32Array | undefined> {
    const t = this.gguf.tensors.find((x) => x.name === 'rope_freqs.weight');
    if (t === undefined) return undefined;
    const bytes = await this.source.read(t.offset, t.byteLength);
    return dequantizeGgml(
      bytes,
      t.type,
      t.dims.reduce((a, b) => a * b, 1),
      { file: this.file, tensor: t.name },
    );
  }

  /** Reads, dequantizes and fixes up one tensor (see the class description). */
  async get(name: string): Promise<HostTensor> {
    const t = this.info(name);
    const bytes = await this.source.read(t.offset, t.byteLength);
    const count = t.dims.reduce((a, b) => a * b, 1);
    let data = dequantizeGgml(bytes, t.type, count, { file: this.file, tensor: t.name });
    const shape = [...t.dims].reverse();
    data = this.unpermute(name, t, data);
    if (this.arch === 'gemma3' && t.name.endsWith('norm.weight')) {
      // llama.cpp stores Gemma's (1 + w) norm weights as 1 + w; transformers subtracts 1 in float32.
      for (let i = 0; i < data.length; i++) data[i] = data[i]! - 1;
    }
    return { dtype: 'float32', shape, data };
  }

  /**
   * Reads one tensor's stored bytes undecoded: `dtype` is the ggml type name (`Q4_1`, `Q8_0`,
   * `F32`, …), `shape` the Hugging Face `[out, in]`. Rows are whole (ggml blocks run along the
   * last axis), so the Llama q/k fix-up permutes them here too; the Gemma 3 norm fix-up has no
   * byte form and such tensors are refused.
   */
  async getRaw(name: string): Promise<{ readonly dtype: string; readonly shape: readonly number[]; readonly bytes: Uint8Array }> {
    const t = this.info(name);
    const dtype = ggmlTypeInfo(t.type)?.name ?? `type ${t.type}`;
    if (this.arch === 'gemma3' && t.name.endsWith('norm.weight')) {
      throw new FileFormatError({
        file: this.file,
        field: t.name,
        message: 'Gemma 3 norm weights are fixed up in float32; read them with get().',
      });
    }
    const bytes = this.unpermute(name, t, await this.source.read(t.offset, t.byteLength));
    return { dtype, shape: [...t.dims].reverse(), bytes };
  }

  /** Undoes llama.cpp's q/k row permutation (Llama-family files) on whole rows of values or of block bytes. */
  private unpermute<T extends Float32Array | Uint8Array>(name: string, t: GgufTensorInfo, rowsData: T): T {
    const heads = this.permuteHeads.get(name);
    if (heads === undefined) return rowsData;
    const rows = t.dims[t.dims.length - 1] ?? 1;
    if (rows % (2 * heads) !== 0) {
      throw new FileFormatError({
        file: this.file,
        field: t.name,
        message: `${rows} rows cannot be split into ${heads} heads of an even size (attention.head_count / head_count_kv)`,
      });
    }
    return interleavedToRotateHalf(rowsData, heads, rowsData.length / rows);
  }

  async close(): Promise<void> {
    await this.source.close();
  }
}
