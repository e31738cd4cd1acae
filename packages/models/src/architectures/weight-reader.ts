import { FileFormatError } from '@lora/core';
import * as tf from '@tensorflow/tfjs';
import { ShapeMismatchError } from '../errors/shape-mismatch-error.js';
import type { HostTensor, WeightSource } from '../io/host-tensor.js';
import { Linear, type LinearLike } from '../layers/linear.js';

/** What a {@link LinearFactory} is asked to build. */
export interface LinearRequest {
  /** Module path, e.g. `model.layers.0.self_attn.q_proj` (its weight is `<path>.weight`). */
  readonly path: string;
  readonly outFeatures: number;
  readonly inFeatures: number;
  /** Whether the config gives the module a bias (`<path>.bias`). */
  readonly bias: boolean;
  /** The reader: `has`, `float`, `raw` and `markUsed` over canonical tensor names. */
  readonly reader: WeightReader;
  /** The tensor holding the weight when it is not `<path>.weight` (a tied head reads `model.embed_tokens.weight`). */
  readonly weight?: string;
}

/**
 * Builds a linear module straight from the checkpoint (e.g. an NF4 layer from its packed bytes),
 * or returns undefined to let the loader build a dense {@link Linear}. Tensors it consumes must be
 * marked with `reader.markUsed` (or read through `reader.float` / `reader.raw`).
 */
export type LinearFactory = (request: LinearRequest) => Promise<LinearLike | undefined>;

/**
 * Reads the tensors of one checkpoint by Hugging Face name, checking shapes, and tracks which keys
 * were used so a load can fail on leftovers instead of silently ignoring weights (mlx-lm's strict
 * load). `rename` maps checkpoint names to canonical ones (multimodal prefixes).
 */
export class WeightReader {
  private readonly byCanonical = new Map<string, string>();
  private readonly used = new Set<string>();
  private readonly skipped: string[] = [];

  constructor(
    private readonly source: WeightSource,
    /** Checkpoint name used in error messages. */
    readonly file: string,
    rename: (key: string) => string | undefined = (k) => k,
    private readonly factory?: LinearFactory,
  ) {
    for (const key of source.keys()) {
      const canonical = rename(key);
      if (canonical !== undefined) this.byCanonical.set(canonical, key);
      else {
        this.used.add(key);
        this.skipped.push(key);
      }
    }
  }

  /** Checkpoint names that `rename` dropped (e.g. a vision tower), in file order. */
  skippedKeys(): readonly string[] {
    return this.skipped;
  }

  /** Every canonical tensor name of the checkpoint. */
  canonicalKeys(): string[] {
    return [...this.byCanonical.keys()];
  }

  /** True when the checkpoint has `name` (canonical). */
  has(name: string): boolean {
    return this.byCanonical.has(name);
  }

  /** Reads a float tensor and checks its shape. */
  async float(name: string, shape: readonly number[]): Promise<Float32Array> {
    const key = this.byCanonical.get(name);
    if (key === undefined) {
      throw new FileFormatError({ file: this.file, field: name, message: `missing tensor "${name}" that the config requires.` });
    }
    const t: HostTensor = await this.source.get(key);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ShapeMismatchError({ key, expectedShape: shape, actualShape: t.shape, file: this.file });
    }
    if (!(t.data instanceof Float32Array)) {
      throw new FileFormatError({ file: this.file, field: key, message: `expected a floating-point tensor, found ${t.dtype}.` });
    }
    this.used.add(key);
    return t.data;
  }

  /** Reads a tensor's stored bytes undecoded (needs a source with `getRaw`, e.g. safetensors). */
  async raw(name: string): Promise<{ readonly dtype: string; readonly shape: readonly number[]; readonly bytes: Uint8Array }> {
    const key = this.byCanonical.get(name);
    if (key === undefined) throw new FileFormatError({ file: this.file, field: name, message: `missing tensor "${name}".` });
    if (this.source.getRaw === undefined) {
      throw new FileFormatError({ file: this.file, field: name, message: 'this weight source cannot read raw bytes (getRaw).' });
    }
    const raw = await this.source.getRaw(key);
    this.used.add(key);
    return raw;
  }

  /** Marks a canonical tensor as consumed (a {@link LinearFactory} that read it another way). */
  markUsed(name: string): void {
    this.ignore(name);
  }

  /**
   * The linear module at `prefix`: from the {@link LinearFactory} when it builds one, otherwise a
   * frozen {@link Linear} from the PyTorch `[out, in]` weight (and `.bias` when `bias`).
   */
  async linear(prefix: string, outFeatures: number, inFeatures: number, bias = false): Promise<LinearLike> {
    const built = await this.built(prefix, outFeatures, inFeatures, bias);
    if (built !== undefined) return built;
    return this.dense(prefix, outFeatures, inFeatures, bias);
  }

  /** The {@link LinearFactory}'s module at `prefix` (weight in `weight`, default `<prefix>.weight`), or undefined when it builds none. */
  async built(prefix: string, outFeatures: number, inFeatures: number, bias = false, weight?: string): Promise<LinearLike | undefined> {
    return this.factory?.({ path: prefix, outFeatures, inFeatures, bias, reader: this, ...(weight === undefined ? {} : { weight }) });
  }

  /** Reads a PyTorch `[out, in]` weight (and `.bias` when `bias`) into a frozen {@link Linear}. */
  async dense(prefix: string, outFeatures: number, inFeatures: number, bias = false): Promise<Linear> {
    const w = await this.float(`${prefix}.weight`, [outFeatures, inFeatures]);
    const b = bias ? tf.tensor1d(await this.float(`${prefix}.bias`, [outFeatures])) : undefined;
    return Linear.fromTorch(w, outFeatures, inFeatures, { ...(b === undefined ? {} : { bias: b }), name: prefix });
  }

  /** Marks canonical names as deliberately unused (e.g. `lm_head.weight` of a tied model). */
  ignore(name: string): void {
    const key = this.byCanonical.get(name);
    if (key !== undefined) this.used.add(key);
  }

  /** Throws when the checkpoint holds tensors that no module consumed. */
  finish(): void {
    const left = this.source.keys().filter((k) => !this.used.has(k));
    if (left.length > 0) {
      const shown = left.slice(0, 8).join(', ');
      throw new FileFormatError({
        file: this.file,
        field: left[0] as string,
        message: `${left.length} tensor(s) were not used by the model: ${shown}${left.length > 8 ? ', …' : ''}. HINT: the checkpoint and config.json do not match, or the architecture has modules this decoder lacks.`,
      });
    }
  }
}
