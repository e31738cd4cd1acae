import * as tf from '@tensorflow/tfjs';
import { LoraError } from '@lora/core';
import { dynamicMap, quantizeBlock8bit } from '@lora/quant/internal';
import type { AdamOptions } from './adamw.js';
import { type NamedGradients, type Optimizer, type OptimizerState, checkVariables, decayMatricesOnly } from './optimizer.js';

/** Options of {@link AdamW8bit}. */
export interface AdamW8bitOptions extends AdamOptions {
  /** Values per quantization block; default 256 (bitsandbytes' optimizer block). */
  blockSize?: number;
  /** Variables with fewer elements keep float32 states (bitsandbytes' `min_8bit_size`); default 4096. */
  minSize?: number;
}

interface VariableState {
  readonly eightBit: boolean;
  /** Float32 moments (small variables only; empty for 8-bit ones, which use shared scratch). */
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** 8-bit codes and block absmax (8-bit variables only; empty otherwise). */
  readonly mCodes: Uint8Array;
  readonly vCodes: Uint8Array;
  readonly mAbsmax: Float32Array;
  readonly vAbsmax: Float32Array;
}

const f = Math.fround;

/**
 * AdamW whose moments are stored in 8 bits per value, as bitsandbytes' `AdamW8bit`: blockwise
 * dynamic quantization (blocks of 256, one float32 absmax each), the signed dynamic map for the
 * first moment and the unsigned one for the second. Each step dequantizes, applies the float32
 * AdamW update (decoupled weight decay, bias correction) and requantizes to the nearest code
 * (@lora/quant's 8-bit blockwise codec with `rounding: 'nearest'`, bnb's reference quantizer).
 *
 * States live on the host (tfjs tensors have no 8-bit dtype: a uint8 tensor would be int32), so
 * the state takes ≈ 2.03 bytes per parameter instead of 8 (plus one block of float32 scratch), and
 * nothing on the tensor backend. The update runs in JavaScript: fine
 * for adapter-sized parameter counts; each step reads the gradient and the parameter back with
 * `await data()` (so `applyGradients` returns a promise; any backend, webgpu included) and writes
 * the parameter once.
 */
export class AdamW8bit implements Optimizer {
  readonly kind = 'adamw8bit';
  private steps = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private readonly blockSize: number;
  private readonly minSize: number;
  private readonly decays: ReadonlySet<string>;
  private readonly signedMap = dynamicMap(true);
  private readonly unsignedMap = dynamicMap(false);
  private readonly states = new Map<string, VariableState>();
  /** One dequantized block of each moment. */
  private readonly scratchM: Float32Array;
  private readonly scratchV: Float32Array;

  constructor(
    private readonly variables: readonly tf.Variable[],
    options: AdamW8bitOptions = {},
  ) {
    checkVariables(variables);
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.blockSize = options.blockSize ?? 256;
    this.minSize = options.minSize ?? 4096;
    this.decays = new Set(variables.filter(options.decayFilter ?? decayMatricesOnly).map((v) => v.name));
    this.scratchM = new Float32Array(this.blockSize);
    this.scratchV = new Float32Array(this.blockSize);
  }

  get step(): number {
    return this.steps;
  }

  private state(variable: tf.Variable): VariableState {
    let s = this.states.get(variable.name);
    if (s === undefined) {
      const n = variable.size;
      const eightBit = n >= this.minSize;
      const blocks = Math.ceil(n / this.blockSize);
      s = {
        eightBit,
        m: new Float32Array(eightBit ? 0 : n),
        v: new Float32Array(eightBit ? 0 : n),
        // Zero states as bnb's `init_state`: code 0 with absmax 0 (dequantized: ±0).
        mCodes: new Uint8Array(eightBit ? n : 0),
        vCodes: new Uint8Array(eightBit ? n : 0),
        mAbsmax: new Float32Array(eightBit ? blocks : 0),
        vAbsmax: new Float32Array(eightBit ? blocks : 0),
      };
      this.states.set(variable.name, s);
    }
    return s;
  }

  async applyGradients(grads: NamedGradients, lr: number): Promise<void> {
    const present = this.variables.filter((p) => grads[p.name] !== undefined);
    // One wait for the device: every gradient and parameter of the step is read together.
    const read = await Promise.all(
      present.map((p) => Promise.all([(grads[p.name] as tf.Tensor).data() as Promise<Float32Array>, p.data() as Promise<Float32Array>])),
    );
    const host = new Map(present.map((p, i) => [p.name, read[i] as [Float32Array, Float32Array]]));
    this.steps++;
    const { beta1, beta2, eps } = this;
    const correction1 = 1 - beta1 ** this.steps;
    const correction2 = Math.sqrt(1 - beta2 ** this.steps);
    // Scalars enter the float32 kernels rounded to float32, as PyTorch's CPU ops do.
    const stepSize = f(-lr / correction1);
    const c2 = f(correction2);
    const oneMinusB1 = f(1 - beta1);
    const oneMinusB2 = f(1 - beta2);
    const b1 = f(beta1);
    const b2 = f(beta2);
    const epsF = f(eps);
    for (const p of present) {
      const s = this.state(p);
      const [g, paramData] = host.get(p.name) as [Float32Array, Float32Array];
      const param = Float32Array.from(paramData);
      const decay = this.decays.has(p.name) ? f(1 - lr * this.weightDecay) : 1;
      const update = (m1: Float32Array, m2: Float32Array, start: number, end: number, base: number): void => {
        for (let i = start; i < end; i++) {
          const gi = g[base + i] as number;
          // PyTorch's `add_(x, alpha)` is a fused multiply-add: one rounding (exact product in double).
          const m = f(f((m1[i] as number) * b1) + gi * oneMinusB1);
          const v = f(f((m2[i] as number) * b2) + f(f(oneMinusB2 * gi) * gi));
          m1[i] = m;
          m2[i] = v;
          const denom = f(f(f(Math.sqrt(v)) / c2) + epsF);
          param[base + i] = f(f((param[base + i] as number) * decay) + f(f(stepSize * m) / denom));
        }
      };
      if (!s.eightBit) {
        update(s.m, s.v, 0, param.length, 0);
      } else {
        // Block by block: dequantize 256 values of each moment, update, requantize.
        const bs = this.blockSize;
        for (let block = 0, start = 0; start < param.length; block++, start += bs) {
          const len = Math.min(bs, param.length - start);
          const m1 = this.scratchM;
          const m2 = this.scratchV;
          const mAbs = s.mAbsmax[block] as number;
          const vAbs = s.vAbsmax[block] as number;
          for (let i = 0; i < len; i++) {
            m1[i] = f((this.signedMap[s.mCodes[start + i] as number] as number) * mAbs);
            m2[i] = f((this.unsignedMap[s.vCodes[start + i] as number] as number) * vAbs);
          }
          update(m1, m2, 0, len, start);
          quantizeBlock8bit(m1, 0, len, this.signedMap, 'nearest', s.mCodes, s.mAbsmax, block, start);
          quantizeBlock8bit(m2, 0, len, this.unsignedMap, 'nearest', s.vCodes, s.vAbsmax, block, start);
        }
      }
      tf.tidy(() => p.assign(tf.tensor(param, p.shape)));
    }
  }

  async getState(): Promise<OptimizerState> {
    const tensors: Record<string, { shape: number[]; data: Float32Array | Uint8Array }> = {};
    for (const [name, s] of this.states) {
      if (s.eightBit) {
        tensors[`${name}.state1`] = { shape: [s.mCodes.length], data: s.mCodes.slice() };
        tensors[`${name}.state2`] = { shape: [s.vCodes.length], data: s.vCodes.slice() };
        tensors[`${name}.absmax1`] = { shape: [s.mAbsmax.length], data: s.mAbsmax.slice() };
        tensors[`${name}.absmax2`] = { shape: [s.vAbsmax.length], data: s.vAbsmax.slice() };
      } else {
        tensors[`${name}.exp_avg`] = { shape: [s.m.length], data: s.m.slice() };
        tensors[`${name}.exp_avg_sq`] = { shape: [s.v.length], data: s.v.slice() };
      }
    }
    return { kind: this.kind, step: this.steps, tensors };
  }

  setState(state: OptimizerState): void {
    if (state.kind !== this.kind) {
      throw new LoraError(`optimizer state is for "${state.kind}" but this optimizer is "${this.kind}"; resume with the same optimizer.`);
    }
    this.steps = state.step;
    this.states.clear();
    for (const p of this.variables) {
      const get = (slot: string): Float32Array | Uint8Array | undefined => state.tensors[`${p.name}.${slot}`]?.data;
      const m1 = get('state1') ?? get('exp_avg');
      if (m1 === undefined) continue;
      const s = this.state(p);
      if (s.eightBit) {
        s.mCodes.set(m1);
        s.vCodes.set(get('state2') ?? new Uint8Array(0));
        s.mAbsmax.set(get('absmax1') ?? new Float32Array(0));
        s.vAbsmax.set(get('absmax2') ?? new Float32Array(0));
      } else {
        s.m.set(m1);
        s.v.set(get('exp_avg_sq') ?? new Float32Array(0));
      }
    }
  }

  stateBytes(): { tensor: number; host: number } {
    let host = 4 * (this.scratchM.length + this.scratchV.length);
    for (const s of this.states.values()) {
      host += s.mCodes.length + s.vCodes.length + 4 * (s.mAbsmax.length + s.vAbsmax.length + s.m.length + s.v.length);
    }
    return { tensor: 0, host };
  }

  dispose(): void {
    this.states.clear();
  }
}
