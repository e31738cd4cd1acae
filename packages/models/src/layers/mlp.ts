import * as tf from '@tensorflow/tfjs';
import { nativeKernel, SILU_MUL, SILU_MUL_GRAD } from '../backend/native-kernel-names.js';
import { applyLinears, ggmlGateUp } from './ggml-linear.js';
import { customGrad } from './custom-grad.js';
import type { HiddenAct } from '../config/model-config.js';
import type { LinearLike } from './linear.js';
import { isRecordingGradients } from './tape.js';

/**
 * `silu(g) · u` (the gated MLP's hidden state) with a hand-written gradient: the forward runs the
 * same kernels as `mul(mul(g, sigmoid(g)), u)` (identical values) and the backward is
 * `du = dy · silu(g)`, `dg = dy · u · s · (1 + g · (1 − s))` with `s = sigmoid(g)` — 7 elementwise
 * kernels over `[N, intermediate]` where tfjs's chain rule runs about twice as many (with casts).
 */
const siluGate = customGrad<[tf.Tensor, tf.Tensor], tf.Tensor>((g: tf.Tensor, u: tf.Tensor, save: tf.GradSaveFunc) => {
  // Only the inputs are kept for the backward pass, which recomputes `s` and `silu(g)` with the
  // same kernels (identical values): two fewer [N, intermediate] activations per layer.
  save([g, u]);
  return {
    value: tf.mul(tf.mul(g, tf.sigmoid(g)), u),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [gs, us] = saved as [tf.Tensor, tf.Tensor];
      const ss = tf.sigmoid(gs);
      const as = tf.mul(gs, ss);
      const dGate = tf.mul(tf.mul(dy, us), tf.mul(ss, tf.add(tf.mul(gs, tf.sub(1, ss)), 1)));
      return [dGate, tf.mul(dy, as)];
    },
  };
});

/** {@link siluGate} on tensorflow with lora_ops.node: `LoraSiluMul` forward, `LoraSiluMulGrad` backward. */
const nativeSiluGate = customGrad<[tf.Tensor, tf.Tensor], tf.Tensor>((g: tf.Tensor, u: tf.Tensor, save: tf.GradSaveFunc) => {
  save([g, u]);
  return {
    value: tf.engine().runKernel(SILU_MUL, { g, u }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      tf.engine().runKernel(SILU_MUL_GRAD, { g: saved[0] as tf.Tensor, u: saved[1] as tf.Tensor, dy }) as tf.Tensor[],
  };
});

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
    return tf.tidy(() => {
      const fused = this.act === 'silu' ? ggmlGateUp(x, this.gateProj, this.upProj) : undefined;
      if (fused !== undefined) return this.downProj.apply(fused);
      const [gate, up] = (
        x.rank === 2 ? applyLinears(x as tf.Tensor2D, [this.gateProj, this.upProj]) : [this.gateProj.apply(x), this.upProj.apply(x)]
      ) as [tf.Tensor, tf.Tensor];
      let hidden: tf.Tensor;
      if (this.act !== 'silu') hidden = tf.mul(activation(this.act, gate), up);
      else if (isRecordingGradients()) hidden = nativeKernel(SILU_MUL_GRAD) ? nativeSiluGate(gate, up) : siluGate(gate, up);
      else if (nativeKernel(SILU_MUL)) hidden = tf.engine().runKernel(SILU_MUL, { g: gate, u: up }) as tf.Tensor;
      else hidden = tf.mul(activation(this.act, gate), up);
      return this.downProj.apply(hidden);
    });
  }

  dispose(): void {
    this.gateProj.dispose();
    this.upProj.dispose();
    this.downProj.dispose();
  }
}
