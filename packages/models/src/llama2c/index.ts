/**
 * Import of karpathy/llama2.c legacy checkpoints (`.bin`, version 0); the `tokenizer.bin` reader is in `@lora/data`.
 * Re-exported from the package entry point.
 */
export {
  interleavedToRotateHalf,
  parseLlama2cCheckpoint,
  readLlama2cCheckpoint,
  type Llama2cCheckpoint,
  type Llama2cHeader,
  type Llama2cHfConfig,
} from './checkpoint.js';
