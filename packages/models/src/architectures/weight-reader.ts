import { FileFormatError } from '@lora/core';
import * as tf from '@tensorflow/tfjs';
import { ShapeMismatchError } from '../errors/shape-mismatch-error.js';
import type { HostTensor, WeightSource } from '../io/host-tensor.js';
import { Linear } from '../layers/linear.js';

/**
 * Reads the tensors of one checkpoint by Hugging Face name, checking shapes, and tracks which keys
 * were used so a load can fail on leftovers instead of silently ignoring weights (mlx-lm's strict
 * load). `rename` maps checkpoint names to canonical ones (multimodal prefixes).
 */
export class WeightReader {
  private readonly byCanonical = new Map<string, string>();
  private readonly used = new Set<string>();

  constructor(
    private readonly source: WeightSource,
    private readonly file: string,
    rename: (key: string) => string | undefined = (k) => k,
  ) {
    for (const key of source.keys()) {
      const canonical = rename(key);
      if (canonical !== undefined) this.byCanonical.set(canonical, key);
      else this.used.add(key);
    }
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

  /** Reads a PyTorch `[out, in]` weight (and `.bias` when `bias`) into a frozen {@link Linear}. */
  async linear(prefix: string, outFeatures: number, inFeatures: number, bias = false): Promise<Linear> {
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
