import { InvalidArgumentError } from '@lora/core';
import type { CausalLM, LinearSlot } from '@lora/models';
import type * as tf from '@tensorflow/tfjs';
import type { LoraBias, LoraConfig } from '../config/lora-config.js';
import type { AdapterTensorKind } from '../io/format.js';
import { LoraLinear } from '../layers/lora-linear.js';
import { adaptableLinearSlots } from './apply-lora.js';
import { BiasLinear } from '../layers/trainable-bias.js';

/** One base bias an adapter trains: where it lives and the key kind PEFT saves it under. */
export interface TrainedBias {
  /** Module path (`model.layers.0.self_attn.q_proj`). */
  readonly path: string;
  /** `base_layer.bias` on an adapted module, `bias` on any other (PEFT's state-dict names). */
  readonly kind: Extract<AdapterTensorKind, 'base_layer.bias' | 'bias'>;
  /** The bias variable (the base model's own bias, changed in place). */
  readonly variable: tf.Variable<tf.Rank.R1>;
}

/** Every linear slot, a tied `lm_head` included (PEFT sees it as a module). */
function slots(model: CausalLM): LinearSlot[] {
  return adaptableLinearSlots(model);
}

/**
 * Puts PEFT's `bias` setting into effect after injection (PEFT `_mark_only_adapters_as_trainable`):
 * `"lora_only"` makes the bias of every adapted module a variable, `"all"` also those of the other
 * linear modules (wrapped in a {@link BiasLinear}). Variables are trainable when `trainable`.
 * Returns the biases in model order (empty for `"none"` or a model without biases).
 */
export function prepareBiases(model: CausalLM, bias: LoraBias, trainable: boolean): TrainedBias[] {
  const out: TrainedBias[] = [];
  if (bias === 'none') return out;
  for (const s of slots(model)) {
    const module = s.get();
    if (module instanceof LoraLinear) {
      const variable = module.biasVariable(trainable, s.path);
      if (variable !== undefined) out.push({ path: s.path, kind: 'base_layer.bias', variable });
    } else if (bias === 'all' && module.bias !== undefined) {
      const wrapped = module instanceof BiasLinear ? module : new BiasLinear(module, trainable, s.path);
      wrapped.biasVariable.trainable = trainable;
      if (wrapped !== module) s.set(wrapped);
      out.push({ path: s.path, kind: 'bias', variable: wrapped.biasVariable });
    }
  }
  return out;
}

/** PEFT allows one adapter with `bias` other than `"none"` (the biases are the base model's, shared). */
export function checkOneBiasAdapter(configs: Iterable<LoraConfig>, adding: LoraConfig): void {
  const withBias = [...configs, adding].filter((c) => c.bias !== 'none').length;
  if (withBias > 1) {
    throw new InvalidArgumentError({
      argument: 'LoraConfig.bias',
      message: "LoraModel supports only 1 adapter with bias. When using multiple adapters, set bias to 'none' for all adapters.",
    });
  }
}

/**
 * The biases PEFT saves with an adapter whose config has `bias` (PEFT
 * `_get_learnable_bias_state_dict`): `"lora_only"` → `<module>.base_layer.bias` of every adapted
 * module; `"all"` → also `<module>.bias` of every other biased linear module. Read-only.
 */
export function savedBiases(model: CausalLM, bias: LoraBias): { path: string; kind: TrainedBias['kind']; tensor: tf.Tensor1D }[] {
  if (bias === 'none') return [];
  const out: { path: string; kind: TrainedBias['kind']; tensor: tf.Tensor1D }[] = [];
  for (const s of slots(model)) {
    const module = s.get();
    if (module.bias === undefined) continue;
    if (module instanceof LoraLinear) out.push({ path: s.path, kind: 'base_layer.bias', tensor: module.bias });
    else if (bias === 'all') out.push({ path: s.path, kind: 'bias', tensor: module.bias });
  }
  return out;
}
