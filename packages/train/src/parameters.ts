import type * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@lora/core';
import type { CausalLM } from '@lora/models';
import { Linear } from '@lora/models/internal';

/**
 * The trainable variables of a model under stable names: the module path plus the variable's own
 * suffix (`model.layers.0.mlp.up_proj.weight`, `….lora_A.weight`), whatever unique prefix tfjs
 * variable names carry. Checkpoints key tensors by these names, so a resumed process (whose
 * variables have other tfjs names) finds them.
 */
export function namedParameters(model: CausalLM): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  const add = (key: string, v: tf.Variable): void => {
    if (out.has(key))
      throw new InvalidArgumentError({
        argument: 'model',
        message: `two trainable variables map to "${key}"; name variables after their module path.`,
      });
    out.set(key, v);
  };
  const seen = new Set<tf.Variable>();
  const slots: { path: string; get(): { trainableVariables(): tf.Variable[] } }[] = [...model.linearModules()];
  slots.push(model.embeddingModule());
  if (model.config.tieWordEmbeddings) slots.push(model.lmHeadModule());
  for (const slot of slots) {
    slot
      .get()
      .trainableVariables()
      .forEach((v, j) => {
        if (seen.has(v)) return;
        seen.add(v);
        const at = v.name.indexOf(slot.path);
        add(at >= 0 ? v.name.slice(at) : `${slot.path}.param${j}`, v);
      });
  }
  // Variables outside the module slots: keep their own names.
  for (const v of model.trainableVariables()) if (!seen.has(v)) add(v.name, v);
  return out;
}

let runCounter = 0;

/**
 * Full fine-tuning: replaces every linear module (attention, MLP, and `lm_head` unless tied) by a
 * trainable {@link Linear} with the same weight and bias, and frees the frozen one. Variables are
 * named `<unique prefix>/<module path>.weight` (tfjs names must be unique in a process).
 * Returns the number of trainable values.
 */
export function makeLinearsTrainable(model: CausalLM): number {
  const prefix = `full-ft-${++runCounter}-${Math.random().toString(36).slice(2, 8)}`;
  let count = 0;
  for (const slot of model.linearModules()) {
    const old = slot.get();
    const weight = old.denseWeight();
    const bias = old.bias?.clone();
    const layer = new Linear(weight, { trainable: true, name: `${prefix}/${slot.path}`, ...(bias === undefined ? {} : { bias }) });
    if (bias !== undefined) bias.dispose();
    slot.set(layer);
    old.dispose();
    count += layer.inFeatures * layer.outFeatures + (layer.bias?.size ?? 0);
  }
  return count;
}
