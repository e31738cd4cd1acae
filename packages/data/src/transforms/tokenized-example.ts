/**
 * A tokenized training example: token ids and, per token, whether it is trained (1) or only
 * context (0). Produced by the chat/prompt-completion encoders; consumed by truncation, packing
 * and collation.
 */
export interface TokenizedExample {
  /** Token ids. */
  readonly inputIds: Int32Array;
  /** 1 where the token is a training target, 0 where it is masked; same length as `inputIds`. */
  readonly labelsMask: Uint8Array;
}

/** Label value of positions that do not contribute to the loss (Hugging Face / PyTorch convention). */
export const IGNORE_INDEX = -100;
