/**
 * LoRA, rsLoRA and DoRA adapters for `@lora/models` causal LMs, reading and writing Hugging Face
 * PEFT adapter folders (`adapter_config.json` + `adapter_model.safetensors`) with PEFT's keys and
 * layouts. Several named adapters can share one base; merge / unmerge / mergeAndUnload fold them
 * into the base weights.
 *
 * @example
 * ```ts
 * import { loadModel } from '@lora/models';
 * import { getPeftModel, loraConfig, loadPeftModel } from '@lora/peft';
 * const { model } = await loadModel(baseDir);
 * const peft = getPeftModel(model, loraConfig({ r: 8, loraAlpha: 16, targetModules: 'all-linear' }));
 * // … train peft.trainableVariables() …
 * await peft.saveAdapter('out/adapter'); // loads in Python with PeftModel.from_pretrained
 * ```
 *
 * @packageDocumentation
 */
export * from './index.browser.js';

// Node only (files by path): left out of the browser entry.
export { saveMergedModel, MERGED_DTYPES, type MergedDtype } from './merge.js';
