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
  type LoraConfig,
  type LoraConfigOptions,
  type InitLoraWeights,
} from './config/lora-config.js';
export { LoraLinear, type LoraAdapterOptions, type LoraAdapterWeights } from './layers/lora-linear.js';
export type { AuxiliaryLayers } from './inject/auxiliary.js';
export { ModulesToSaveEmbedding, ModulesToSaveLinear } from './layers/modules-to-save.js';
export { TrainableTokensEmbedding, type TokenAdapter } from './layers/trainable-tokens.js';
export { PeftModel, getPeftModel, loadPeftModel, type AddAdapterOptions, type LoadAdapterOptions } from './peft-model.js';
export type { AdapterFiles, AdapterSource } from './io/format.js';
export { readAdapterConfig } from './io/load.js';
export { LoraEmbedding, type LoraEmbeddingWeights } from './layers/lora-embedding.js';
