/**
 * NF4/FP4 blockwise quantization byte-identical to bitsandbytes (CPU), double quantization of
 * absmax, the QLoRA base layer {@link Nf4Linear} on TensorFlow.js, and bitsandbytes 4-bit Hugging
 * Face checkpoints (load, quantize a model, save).
 *
 * @example
 * ```ts
 * import { loadModel } from '@lora/models';
 * import { quantizeModel } from '@lora/quant';
 * const { model } = await loadModel(dir);
 * quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: true });
 * ```
 *
 * @packageDocumentation
 */
export type { QuantType } from './codebooks/codebooks.js';
export { quantize4bit, dequantize4bit } from './blockwise.js';
export type { QuantState } from './format.js';
export { Nf4Linear } from './nf4-linear.js';
export { withDequantizedWeights } from './inference-cache.js';
export {
  quantizeModel,
  loadQuantizedModel,
  saveQuantizedModel,
  type QuantizeModelOptions,
} from './quantize-model.js';
