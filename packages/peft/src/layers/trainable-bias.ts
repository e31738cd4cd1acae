import { LoraError } from '@lora/core';
import type { LinearLike } from '@lora/models';
import { Linear } from '@lora/models/internal';
import * as tf from '@tensorflow/tfjs';

/**
 * `base` rebuilt with its bias held in a variable (PEFT `bias="all"` / `"lora_only"` trains the base
 * model's own biases in place): a `Linear` sharing `base`'s weight, whose bias is `variable`.
 * `base` must not be used afterwards (its old bias is freed). A bias that already is a variable is
 * kept (only its `trainable` flag is updated). Returns `undefined` for a base without bias.
 *
 * @throws LoraError for a biased base other than a `Linear` (an NF4 base keeps its bias frozen).
 */
export function withBiasVariable(
  base: LinearLike,
  trainable: boolean,
  where: string,
): { layer: Linear; variable: tf.Variable<tf.Rank.R1> } | undefined {
  const bias = base.bias;
  if (bias === undefined) return undefined;
  if (!(base instanceof Linear)) {
    throw new LoraError(
      `\`bias\` training needs a dense Linear base, but ${where} is a ${base.constructor.name}; use bias "none" or a full-precision base.`,
    );
  }
  if (bias instanceof tf.Variable) {
    bias.trainable = trainable;
    return { layer: base, variable: bias as tf.Variable<tf.Rank.R1> };
  }
  const variable = tf.variable(bias, trainable) as tf.Variable<tf.Rank.R1>;
  const layer = new Linear(base.weight, { bias: variable });
  bias.dispose();
  return { layer, variable };
}

/**
 * A module without an adapter whose bias trains (PEFT `bias="all"` on a module not targeted). It
 * behaves exactly as the base; only the bias is a (trainable) variable, saved as `<module>.bias`.
 * {@link BiasLinear.unload} returns the base, keeping the trained bias (PEFT changes it in place).
 */
export class BiasLinear implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private readonly layer: Linear;
  private readonly variable: tf.Variable<tf.Rank.R1>;

  /** Wraps `base` (consumed; see `withBiasVariable`), which must have a bias. */
  constructor(base: LinearLike, trainable: boolean, where: string) {
    const made = withBiasVariable(base, trainable, where);
    if (made === undefined) throw new LoraError(`${where} has no bias to train.`);
    this.layer = made.layer;
    this.variable = made.variable;
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
  }

  /** The wrapped base layer (PEFT's modules keep no wrapper; this one only marks the bias as trained). */
  get base(): LinearLike {
    return this.layer;
  }

  get bias(): tf.Tensor1D {
    return this.variable;
  }

  /** The bias variable. */
  get biasVariable(): tf.Variable<tf.Rank.R1> {
    return this.variable;
  }

  apply(x: tf.Tensor): tf.Tensor {
    return this.layer.apply(x);
  }

  trainableVariables(): tf.Variable[] {
    return this.variable.trainable ? [this.variable] : [];
  }

  denseWeight(): tf.Tensor2D {
    return this.layer.denseWeight();
  }

  /** Returns the base layer, holding the (trained) bias. */
  unload(): LinearLike {
    return this.layer;
  }

  dispose(): void {
    this.layer.dispose();
  }
}
