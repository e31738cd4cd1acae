import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, LoraError } from '@lora/core';

/** Gradients by variable name, as `tf.variableGrads` returns them. */
export type NamedGradients = Readonly<Record<string, tf.Tensor>>;

/**
 * Serializable optimizer state: the step count and every per-variable buffer on the host, keyed
 * `<variable name>.<slot>` (e.g. `model.layers.0.mlp.up_proj.weight.exp_avg`).
 */
export interface OptimizerState {
  /** Optimizer kind (`adamw`, `adam`, `sgd`). */
  readonly kind: string;
  /** Number of optimizer steps taken. */
  readonly step: number;
  /** Per-variable buffers: float32 moments, or uint8 codes and float32 absmax for 8-bit states. */
  readonly tensors: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: Float32Array | Uint8Array }>>;
}

/** An optimizer over a fixed list of variables; the learning rate is given at each step. */
export interface Optimizer {
  /** Kind name, stored in checkpoints. */
  readonly kind: string;
  /** Number of steps taken so far (1-based bias correction uses `step` after increment). */
  readonly step: number;
  /**
   * Updates the variables in place from their gradients at learning rate `lr`. Variables without a
   * gradient are left alone. Optimizers whose update runs on the backend (AdamW, Adam, SGD) return
   * nothing and never wait for the device; one that updates on the host (AdamW8bit) reads
   * asynchronously and returns a promise. Always `await` the result before the next step.
   */
  applyGradients(grads: NamedGradients, lr: number): void | Promise<void>;
  /** Copies the state to the host (for checkpoints); asynchronous, as reading tensors back is (webgpu has no `dataSync`). */
  getState(): Promise<OptimizerState>;
  /** Restores a state from {@link Optimizer.getState} (same variables). */
  setState(state: OptimizerState): void;
  /** Bytes held by the state: `tensor` in tfjs tensors, `host` in JS typed arrays. */
  stateBytes(): { tensor: number; host: number };
  /** Frees the state tensors. */
  dispose(): void;
}

/** Decides whether a variable gets weight decay; default: tensors of rank ≥ 2 (not biases and norms). */
export type WeightDecayFilter = (variable: tf.Variable) => boolean;

/** Default {@link WeightDecayFilter}: matrices decay, vectors (biases, norm scales, DoRA magnitudes) do not. */
export const decayMatricesOnly: WeightDecayFilter = (variable) => variable.rank >= 2;

/** Checks variable names are unique (state is keyed by name). */
export function checkVariables(variables: readonly tf.Variable[]): void {
  const seen = new Set<string>();
  for (const v of variables) {
    if (seen.has(v.name)) {
      throw new InvalidArgumentError({
        argument: 'variables',
        message: `variable name "${v.name}" appears twice; give each trainable variable a unique name.`,
      });
    }
    seen.add(v.name);
  }
}

/**
 * Base of optimizers whose per-variable buffers are float32 tfjs variables (they stay on the
 * backend's device).
 */
export abstract class TensorOptimizer implements Optimizer {
  abstract readonly kind: string;
  protected steps = 0;
  /** slot name → variable name → buffer. */
  protected readonly slots = new Map<string, Map<string, tf.Variable>>();

  protected constructor(
    protected readonly variables: readonly tf.Variable[],
    slotNames: readonly string[],
  ) {
    checkVariables(variables);
    for (const s of slotNames) this.slots.set(s, new Map());
  }

  get step(): number {
    return this.steps;
  }

  /** The buffer `slot` of `variable`, created as zeros on first use. */
  protected slot(slot: string, variable: tf.Variable): tf.Variable {
    const map = this.slots.get(slot) as Map<string, tf.Variable>;
    let buffer = map.get(variable.name);
    if (buffer === undefined) {
      buffer = tf.tidy(() => tf.variable(tf.zerosLike(variable), false));
      map.set(variable.name, buffer);
    }
    return buffer;
  }

  abstract applyGradients(grads: NamedGradients, lr: number): void;

  async getState(): Promise<OptimizerState> {
    const steps = this.steps;
    const entries: [string, tf.Variable][] = [];
    for (const [slot, map] of this.slots) for (const [name, buffer] of map) entries.push([`${name}.${slot}`, buffer]);
    // Read every buffer at once (a copy each), so the state is one consistent snapshot.
    const data = await Promise.all(entries.map(([, buffer]) => buffer.data() as Promise<Float32Array>));
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    entries.forEach(([key, buffer], i) => {
      tensors[key] = { shape: buffer.shape, data: data[i] as Float32Array };
    });
    return { kind: this.kind, step: steps, tensors };
  }

  setState(state: OptimizerState): void {
    if (state.kind !== this.kind) {
      throw new LoraError(`optimizer state is for "${state.kind}" but this optimizer is "${this.kind}"; resume with the same optimizer.`);
    }
    this.steps = state.step;
    const byName = new Map(this.variables.map((v) => [v.name, v]));
    for (const [slot, map] of this.slots) {
      for (const buffer of map.values()) buffer.dispose();
      map.clear();
      for (const [key, value] of Object.entries(state.tensors)) {
        if (!key.endsWith(`.${slot}`)) continue;
        const name = key.slice(0, -slot.length - 1);
        const variable = byName.get(name);
        if (variable === undefined) continue;
        if (value.data.length !== variable.size) {
          throw new LoraError(`optimizer state "${key}" has ${value.data.length} values; variable "${name}" has ${variable.size}.`);
        }
        map.set(
          name,
          tf.tidy(() => tf.variable(tf.tensor(Float32Array.from(value.data), variable.shape), false)),
        );
      }
    }
  }

  stateBytes(): { tensor: number; host: number } {
    let tensor = 0;
    for (const map of this.slots.values()) for (const b of map.values()) tensor += b.size * 4;
    return { tensor, host: 0 };
  }

  dispose(): void {
    for (const map of this.slots.values()) {
      for (const b of map.values()) b.dispose();
      map.clear();
    }
  }
}
