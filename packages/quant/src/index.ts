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
export { NF4_CODE, FP4_CODE, DYNAMIC_MAP_SIGNED, codeOf, type QuantType } from './codebooks/codebooks.js';
export {
  BLOCKSIZES,
  NESTED_BLOCKSIZE,
  blockCount,
  checkBlocksize,
  quantize4bit,
  dequantize4bit,
  quantizeBlockwise8bit,
  dequantizeBlockwise8bit,
  compressAbsmax,
  decompressAbsmax,
  type Quantized4bit,
  type NestedAbsmax,
} from './blockwise.js';
export {
  QUANT_STATE_SUFFIXES,
  quantStateKey,
  quantStateJson,
  quantStateTensors,
  quantTypeOf,
  readQuantState,
  type QuantState,
  type BnbTensor,
  type RawTensorSource,
} from './format.js';
export { gatherRows, type WordBits } from './pack.js';
export { Nf4Linear, quantizeState, type QuantizeLinearOptions } from './nf4-linear.js';
export { withDequantizedWeights } from './inference-cache.js';
export {
  quantizeModel,
  loadQuantizedModel,
  saveQuantizedModel,
  bnbQuantizationConfig,
  withQuantizationConfig,
  type QuantizeModelOptions,
  type LoadedQuantizedModel,
  type SaveQuantizedOptions,
} from './quantize-model.js';
