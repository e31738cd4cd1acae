/**
 * Supervised fine-tuning for `@lora/models` causal LMs (`sft()` for the common case, `train()` underneath): LoRA / DoRA adapters (with `@lora/peft`)
 * or small full fine-tunes. Causal-LM loss on trained tokens, AdamW / Adam / SGD and an 8-bit
 * blockwise AdamW, transformers' LR schedules, gradient accumulation and clipping, evaluation and
 * early stopping, atomic checkpoints with bit-exact resume, SIGINT/SIGTERM handling, gradient
 * checkpointing, progress, JSONL logs and SVG curves.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from '@lora/data';
 * import { loadModel } from '@lora/models';
 * import { sft } from '@lora/train';
 * const { model } = await loadModel(baseDir);
 * const { model: peft, result } = await sft({
 *   model,
 *   tokenizer: await loadTokenizer(baseDir),
 *   dataset: 'train.jsonl', // `messages`, `prompt` + `completion` or `text` records
 *   lora: { r: 8, lora_alpha: 16, target_modules: 'all-linear' },
 *   args: { numTrainEpochs: 1, learningRate: 2e-4, outputDir: 'out' },
 * });
 * ```
 * `train()` is the loop underneath, for batches built by hand with `@lora/data`'s `collate`.
 *
 * @packageDocumentation
 */
export * from './index.browser.js';

// Node only (files by path): left out of the browser entry.
export { jsonlLogger } from './reporting/jsonl-log.js';
export { writeCurves, curvesWriter } from './reporting/curves.js';
export { sft, type SftResult } from './sft.js';
