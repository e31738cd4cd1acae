import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@lora/core';
import { ADAM_STEP, nativeKernel } from '@lora/models/internal';
import { type NamedGradients, TensorOptimizer, type WeightDecayFilter, decayMatricesOnly } from './optimizer.js';

/** Options of {@link AdamW} and {@link Adam}. */
export interface AdamOptions {
  /** Exponential decay of the first and second moments; default `[0.9, 0.999]`. */
  betas?: readonly [number, number];
  /** Added to the denominator; default `1e-8`. */
  eps?: number;
  /**
   * Weight decay. AdamW: decoupled (`p ← p·(1 − lr·wd)`), default 0.01 as `torch.optim.AdamW`.
   * Adam: classic L2 added to the gradient, default 0.
   */
  weightDecay?: number;
  /** Which variables decay; default rank ≥ 2 (biases, norms and magnitude vectors do not). */
  decayFilter?: WeightDecayFilter;
}

function checkAdamOptions(options: AdamOptions): void {
  const [b1, b2] = options.betas ?? [0.9, 0.999];
  if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) {
    throw new InvalidArgumentError({ argument: 'betas', message: `must each be in [0, 1), got [${b1}, ${b2}].` });
  }
  if (!((options.eps ?? 1e-8) >= 0)) throw new InvalidArgumentError({ argument: 'eps', message: 'must be ≥ 0.' });
  if (!((options.weightDecay ?? 0) >= 0)) throw new InvalidArgumentError({ argument: 'weightDecay', message: 'must be ≥ 0.' });
}

/**
 * Adam with bias correction, in the arithmetic order of `torch.optim.Adam/AdamW` (single-tensor
 * path), so parameters match PyTorch to float32 rounding.
 */
abstract class AdamBase extends TensorOptimizer {
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private readonly decays: ReadonlySet<string>;

  protected constructor(
    variables: readonly tf.Variable[],
    options: AdamOptions,
    defaultWeightDecay: number,
    private readonly decoupled: boolean,
  ) {
    super(variables, ['exp_avg', 'exp_avg_sq']);
    checkAdamOptions(options);
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? defaultWeightDecay;
    const filter = options.decayFilter ?? decayMatricesOnly;
    this.decays = new Set(variables.filter(filter).map((v) => v.name));
  }

  /** The variables with a gradient, their moments and whether they decay. */
  private *updates(grads: NamedGradients): Generator<{ p: tf.Variable; grad: tf.Tensor; m: tf.Variable; v: tf.Variable; decay: boolean }> {
    for (const p of this.variables) {
      const grad = grads[p.name];
      if (grad === undefined) continue;
      yield {
        p,
        grad,
        m: this.slot('exp_avg', p),
        v: this.slot('exp_avg_sq', p),
        decay: this.weightDecay !== 0 && this.decays.has(p.name),
      };
    }
  }

  applyGradients(grads: NamedGradients, lr: number): void {
    this.steps++;
    const { beta1, beta2, eps } = this;
    const bias1 = 1 - beta1 ** this.steps;
    const bias2Sqrt = Math.sqrt(1 - beta2 ** this.steps);
    const stepSize = lr / bias1;
    if (nativeKernel(ADAM_STEP)) {
      // tensorflow with lora_ops.node: one op per variable, the same float32 roundings as below.
      const attrs = {
        oneMinusBeta1: 1 - beta1,
        beta2,
        oneMinusBeta2: 1 - beta2,
        bias2Sqrt,
        eps,
        negStepSize: -stepSize,
        weightDecay: this.weightDecay,
        decayFactor: 1 - lr * this.weightDecay,
      };
      for (const { p, grad, m, v, decay } of this.updates(grads)) {
        const mode = decay ? (this.decoupled ? 2 : 1) : 0;
        const [param, expAvg, expAvgSq] = tf
          .engine()
          .runKernel(ADAM_STEP, { param: p, expAvg: m, expAvgSq: v, grad }, { ...attrs, mode }) as tf.Tensor[];
        m.assign(expAvg as tf.Tensor);
        v.assign(expAvgSq as tf.Tensor);
        p.assign(param as tf.Tensor);
        tf.dispose([param as tf.Tensor, expAvg as tf.Tensor, expAvgSq as tf.Tensor]);
      }
      return;
    }
    // The step's constants as float32 scalars, made once for every variable (a number operand
    // would be written to the backend again by each op: seven uploads per variable per step).
    const c = tf.tidy(() => ({
      oneMinusBeta1: tf.scalar(1 - beta1),
      beta2: tf.scalar(beta2),
      oneMinusBeta2: tf.scalar(1 - beta2),
      bias2Sqrt: tf.scalar(bias2Sqrt),
      eps: tf.scalar(eps),
      negStepSize: tf.scalar(-stepSize),
      wd: tf.scalar(this.weightDecay),
      decayFactor: tf.scalar(1 - lr * this.weightDecay),
    }));
    try {
      for (const { p, grad, m, v, decay } of this.updates(grads)) {
        tf.tidy(() => {
          let g = grad;
          if (!this.decoupled && decay) g = tf.add(g, tf.mul(p, c.wd));
          m.assign(tf.add(m, tf.mul(tf.sub(g, m), c.oneMinusBeta1)));
          v.assign(tf.add(tf.mul(v, c.beta2), tf.mul(tf.mul(g, g), c.oneMinusBeta2)));
          const denom = tf.add(tf.div(tf.sqrt(v), c.bias2Sqrt), c.eps);
          const base = this.decoupled && decay ? tf.mul(p, c.decayFactor) : p;
          p.assign(tf.add(base, tf.mul(tf.div(m, denom), c.negStepSize)));
        });
      }
    } finally {
      tf.dispose(Object.values(c));
    }
  }
}

/**
 * AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, matching `torch.optim.AdamW`.
 * Weight decay applies only to variables the `decayFilter` selects (default: rank ≥ 2).
 *
 * @example
 * ```ts
 * const optimizer = new AdamW(model.trainableVariables(), { weightDecay: 0.01 });
 * const { grads } = tf.variableGrads(lossFn);
 * await optimizer.applyGradients(grads, schedule(step));
 * ```
 */
export class AdamW extends AdamBase {
  readonly kind = 'adamw';

  constructor(variables: readonly tf.Variable[], options: AdamOptions = {}) {
    super(variables, options, 0.01, true);
  }
}

/** Adam with optional coupled (L2) weight decay, matching `torch.optim.Adam`. */
export class Adam extends AdamBase {
  readonly kind = 'adam';

  constructor(variables: readonly tf.Variable[], options: AdamOptions = {}) {
    super(variables, options, 0, false);
  }
}
