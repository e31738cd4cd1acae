import * as tf from '@tensorflow/tfjs';
import type { HiddenAct } from '../config/model-config.js';
import type { LinearLike } from './linear.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** The activation functions of gated MLPs, as PyTorch computes them. */
export function activation(name: HiddenAct, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    switch (name) {
      case 'silu':
        return tf.mul(x, tf.sigmoid(x));
      case 'gelu_pytorch_tanh': {
        const inner = tf.mul(SQRT_2_OVER_PI, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
        return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
      }
      case 'gelu':
        return tf.mul(tf.mul(0.5, x), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
    }
  });
}

/** `down_proj(act(gate_proj(x)) * up_proj(x))` — the MLP of Llama, Mistral, Qwen3 and Gemma 3. */
export class GatedMLP {
  constructor(
    public gateProj: LinearLike,
    public upProj: LinearLike,
    public downProj: LinearLike,
    readonly act: HiddenAct,
  ) {}

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.downProj.apply(tf.mul(activation(this.act, this.gateProj.apply(x)), this.upProj.apply(x))));
  }

  dispose(): void {
    this.gateProj.dispose();
    this.upProj.dispose();
    this.downProj.dispose();
  }
}
