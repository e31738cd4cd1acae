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
export {
  loraConfig,
  parseLoraConfig,
  serializeLoraConfig,
  loraConfigToJson,
  withLoraConfig,
  type LoraConfig,
  type LoraConfigOptions,
  type LoraBias,
  type InitLoraWeights,
  type ParseLoraConfigOptions,
  type WarningHandler,
} from './config/lora-config.js';
export {
  LoraLinear,
  isRebuildableLinear,
  type RebuildableLinear,
  type LoraAdapterOptions,
  type LoraAdapterWeights,
} from './layers/lora-linear.js';
export {
  ALL_LINEAR,
  DEFAULT_TARGET_MODULES,
  isTargetModule,
  patternValue,
  resolveTargetModules,
} from './inject/target-modules.js';
export {
  injectAdapter,
  selectTargets,
  loraLayers,
  loraEmbedding,
  adaptableLinearSlots,
  type InjectOptions,
} from './inject/apply-lora.js';
export { injectAuxiliary, auxiliaryLayers, type AuxiliaryLayers } from './inject/auxiliary.js';
export { ModulesToSaveEmbedding, ModulesToSaveLinear } from './layers/modules-to-save.js';
export { TrainableTokensEmbedding, TrainableTokensLinear, type TokenAdapter } from './layers/trainable-tokens.js';
export { PeftModel, getPeftModel, loadPeftModel, type AddAdapterOptions, type LoadAdapterOptions } from './peft-model.js';
export { saveMergedModel, MERGED_DTYPES, MODEL_SIDE_FILES, type MergedDtype, type SaveMergedOptions } from './merge.js';
export {
  ADAPTER_CONFIG_NAME,
  ADAPTER_WEIGHTS_NAME,
  ADAPTER_WEIGHTS_METADATA,
  PEFT_KEY_PREFIX,
  PEFT_FORMAT_VERSION,
  adapterTensorKey,
  modulesToSaveKey,
  parseAdapterTensorKey,
  trainableTokensKey,
  type AdapterTensorKind,
  type AdapterFiles,
  type AdapterSource,
} from './io/format.js';
export { adapterStateDict, serializeAdapterWeights, serializeAdapterFiles, saveAdapterFiles, type AdapterStateOptions } from './io/save.js';
export { readAdapterConfig, loadAdapterWeights, type LoadAdapterWeightsOptions } from './io/load.js';
export { BiasLinear } from './layers/trainable-bias.js';
export { LoraEmbedding, type LoraEmbeddingWeights } from './layers/lora-embedding.js';
