import type { CausalLM, LinearLike } from '@lora/models';
import { Nf4Linear } from './nf4-linear.js';

/** The 4-bit layers of `model`, also those wrapped by adapters (`LoraLinear.base`). */
function quantizedLayers(model: CausalLM): Nf4Linear[] {
  const found: Nf4Linear[] = [];
  for (const slot of model.linearModules()) {
    let layer: LinearLike | undefined = slot.get();
    // Adapter wrappers expose the layer they wrap as `base` (PEFT's `base_layer`).
    for (let depth = 0; layer !== undefined && depth < 4; depth++) {
      if (layer instanceof Nf4Linear) {
        found.push(layer);
        break;
      }
      layer = (layer as { base?: LinearLike }).base;
    }
  }
  return found;
}

/**
 * Runs `fn` with every 4-bit linear of `model` (adapter-wrapped ones included) keeping one float32
 * copy of its dequantized weight for forward passes without a gradient tape, and frees the copies
 * afterwards ({@link Nf4Linear.keepDequantized}). Generation and scoring then dequantize the base
 * once instead of at every forward pass — a greedy decode of n tokens otherwise dequantizes every
 * layer n times — with the same outputs. Costs 4 bytes per quantized weight while `fn` runs (about
 * 0.42 GB for SmolLM2-135M's 106M quantized weights). Layers that already kept a copy keep it.
 *
 * @example
 * ```ts
 * await quantizeModel(model, { type: 'nf4' });
 * const report = await withDequantizedWeights(model, () => evaluateVariants({ model, tokenizer, examples, outDir, metrics }));
 * ```
 */
export async function withDequantizedWeights<T>(model: CausalLM, fn: () => Promise<T> | T): Promise<T> {
  const layers = quantizedLayers(model).filter((layer) => !layer.keepsDequantized);
  try {
    for (const layer of layers) layer.keepDequantized(true);
    return await fn();
  } finally {
    for (const layer of layers) layer.keepDequantized(false);
  }
}
