import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@lora/core';
import type { CausalLM } from '@lora/models';
import { customGrad, type DecoderBlock } from '@lora/models/internal';

type LayerContext = Parameters<DecoderBlock['apply']>[1];
const LAYER_TYPES = ['full_attention', 'sliding_attention'] as const;
const KINDS = ['mask', 'cos', 'sin'] as const;

/** Trainable variables of one decoder block (its projections, whatever module is in place). */
function blockVariables(layer: DecoderBlock): tf.Variable[] {
  const a = layer.selfAttn;
  const m = layer.mlp;
  const modules = [a.qProj, a.kProj, a.vProj, a.oProj, m.gateProj, m.upProj, m.downProj];
  return modules.flatMap((module) => module.trainableVariables());
}

/**
 * Turns on gradient checkpointing: each decoder layer keeps only its input during the forward
 * pass (its activations are freed as soon as it returns) and recomputes them in the backward pass,
 * trading one extra layer forward for O(layers) less activation memory. Returns a function that
 * turns it off again.
 *
 * Works on any model whose `layers` are {@link DecoderBlock}s (every `@lora/models` architecture),
 * or a wrapper holding one as `baseModel` (a `@lora/peft` `PeftModel`), with LoRA or other modules
 * put in place before or after the call.
 *
 * @example
 * ```ts
 * const off = enableGradientCheckpointing(model);
 * // ... train ...
 * off();
 * ```
 */
export function enableGradientCheckpointing(model: CausalLM): () => void {
  // A wrapper (e.g. @lora/peft's PeftModel) exposes the decoder as `baseModel`.
  let inner: unknown = model;
  while (
    (inner as Partial<{ layers: unknown }>).layers === undefined &&
    (inner as Partial<{ baseModel: unknown }>).baseModel !== undefined
  ) {
    inner = (inner as { baseModel: unknown }).baseModel;
  }
  const layers = (inner as Partial<{ layers: readonly DecoderBlock[] }>).layers;
  if (layers === undefined) {
    throw new InvalidArgumentError({
      argument: 'model',
      message: 'has no `layers` (decoder blocks); gradient checkpointing needs a DecoderModel from @lora/models.',
    });
  }
  const restore: (() => void)[] = [];
  for (const layer of layers) {
    const original = layer.apply.bind(layer);
    const own = Object.prototype.hasOwnProperty.call(layer, 'apply');
    const previous = layer.apply;
    layer.apply = (x: tf.Tensor3D, ctx: LayerContext): tf.Tensor3D => {
      if (ctx.cache !== undefined) return original(x, ctx);
      const variables = blockVariables(layer);
      const run = customGrad<[tf.Tensor3D, ...tf.Variable[]], tf.Tensor3D>((...args: unknown[]) => {
        const save = args[args.length - 1] as tf.GradSaveFunc;
        const input = args[0] as tf.Tensor3D;
        // Context tensors (masks, rotary tables) per layer type; a model may lack some types.
        const slots: [(typeof KINDS)[number], (typeof LAYER_TYPES)[number]][] = [];
        const ctxTensors: tf.Tensor[] = [];
        for (const kind of KINDS) {
          for (const type of LAYER_TYPES) {
            const t = ctx[kind][type] as tf.Tensor | undefined;
            if (t === undefined) continue;
            slots.push([kind, type]);
            ctxTensors.push(t);
          }
        }
        save([input, ...ctxTensors]);
        return {
          // The forward of a custom op runs off the tape: its intermediates die with this call.
          value: original(input, ctx),
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
            const [xs, ...rest] = saved;
            const rebuilt = { mask: {}, cos: {}, sin: {} } as Record<(typeof KINDS)[number], Record<string, tf.Tensor>>;
            slots.forEach(([kind, type], i) => {
              rebuilt[kind][type] = rest[i] as tf.Tensor;
            });
            const again = { ...ctx, ...rebuilt, cache: undefined } as LayerContext;
            const xsTensor = xs as tf.Tensor3D;
            // A nested tf.grads during backprop replaces the engine's tape and clears it when done
            // (tfjs 4.22 treats it as first-order): keep the outer tape and put it back.
            const state = tf.engine().state;
            const outerTape = state.activeTape;
            let result: { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
            try {
              result = tf.engine().gradients(() => original(xsTensor, again), [xsTensor, ...variables], dy, true);
            } finally {
              state.activeTape = outerTape;
            }
            const { value, grads } = result;
            value.dispose();
            return grads.map((g, i) => g ?? tf.zerosLike(i === 0 ? xsTensor : (variables[i - 1] as tf.Variable)));
          },
        };
      });
      return run(x, ...variables);
    };
    restore.push(() => {
      if (own) layer.apply = previous;
      else delete (layer as { apply?: unknown }).apply;
    });
  }
  return () => {
    for (const r of restore) r();
  };
}
