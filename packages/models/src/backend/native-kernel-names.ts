/**
 * Names of the tfjs kernels that `native-ops.ts` registers on the `tensorflow` backend from
 * `lora_ops.node`, in a module of their own so that browser builds can test for a kernel
 * (`tf.getKernel(name, tf.getBackend())`) without importing the Node loader.
 */

/**
 * `LoraNf4Dequantize`: an `Nf4Linear` base (32-bit byte-plane words) to its float32 `[rows, cols]`
 * weight in one pass, bit-identical to `Nf4Linear`'s tfjs ops. Inputs `{words, code, absmax}`
 * (float32 absmax), or `{words, code, nestedAbsmax, offset, nestedMap}` with double quantization
 * (the 8-bit absmax codes follow the 4-bit codes in `words`); attrs `{rows, cols, blocksize}`, plus
 * `nestedBlocksize` with double quantization. See `tools/tfjs-node/ops/nf4.cc`.
 */
export const NF4_DEQUANTIZE = 'LoraNf4Dequantize';
