/**
 * Browser entry of `@lora/peft` (the `browser` export condition): everything of the Node entry
 * except `saveMergedModel` (it writes a model folder). In a browser, save with
 * `PeftModel.adapterFiles()` (the two PEFT files in memory) and load with
 * `loadPeftModel(model, files)`; the folder forms (`saveAdapter(dir)`, `loadPeftModel(model, dir)`)
 * need Node.
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
