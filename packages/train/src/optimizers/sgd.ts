import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@lora/core';
import { type NamedGradients, TensorOptimizer, type WeightDecayFilter, decayMatricesOnly } from './optimizer.js';

/** Options of {@link SGD}. */
export interface SgdOptions {
  /** Momentum factor; default 0 (plain SGD). */
  momentum?: number;
  /** Dampening of the momentum; default 0. */
  dampening?: number;
  /** Nesterov momentum; default false. */
  nesterov?: boolean;
  /** L2 weight decay added to the gradient; default 0. */
  weightDecay?: number;
  /** Which variables decay; default rank ≥ 2. */
  decayFilter?: WeightDecayFilter;
}

/** Stochastic gradient descent with optional momentum, matching `torch.optim.SGD`. */
export class SGD extends TensorOptimizer {
  readonly kind = 'sgd';
  private readonly momentum: number;
  private readonly dampening: number;
  private readonly nesterov: boolean;
  private readonly weightDecay: number;
  private readonly decays: ReadonlySet<string>;

  constructor(variables: readonly tf.Variable[], options: SgdOptions = {}) {
    super(variables, ['momentum_buffer']);
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = options.weightDecay ?? 0;
    if (!(this.momentum >= 0)) throw new InvalidArgumentError({ argument: 'momentum', message: 'must be ≥ 0.' });
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new InvalidArgumentError({ argument: 'nesterov', message: 'needs momentum > 0 and dampening 0.' });
    }
    this.decays = new Set(variables.filter(options.decayFilter ?? decayMatricesOnly).map((v) => v.name));
  }

  applyGradients(grads: NamedGradients, lr: number): void {
    const first = this.steps === 0;
    this.steps++;
    for (const p of this.variables) {
      const grad = grads[p.name];
      if (grad === undefined) continue;
      const wd = this.decays.has(p.name) ? this.weightDecay : 0;
      const buffer = this.momentum !== 0 ? this.slot('momentum_buffer', p) : undefined;
      tf.tidy(() => {
        let d = wd !== 0 ? tf.add(grad, tf.mul(p, wd)) : grad;
        if (buffer !== undefined) {
          buffer.assign(first ? d : tf.add(tf.mul(buffer, this.momentum), tf.mul(d, 1 - this.dampening)));
          d = this.nesterov ? tf.add(d, tf.mul(buffer, this.momentum)) : buffer;
        }
        p.assign(tf.add(p, tf.mul(d, -lr)));
      });
    }
  }
}
