import { InvalidArgumentError, LoraError } from '@lora/core';
import type { CausalLM, KVCache, ModelConfig, EmbeddingSlot, ForwardOptions, LinearSlot } from '@lora/models';
import type * as tf from '@tensorflow/tfjs';
import type { LoraConfig, WarningHandler } from './config/lora-config.js';
import { adaptableLinearSlots, injectAdapter, loraEmbedding, loraLayers } from './inject/apply-lora.js';
import {
  type AuxiliaryLayers,
  auxiliaryLayers,
  checkAuxiliary,
  deleteAuxiliaryAdapter,
  injectAuxiliary,
  setAuxiliaryState,
  unloadAuxiliary,
} from './inject/auxiliary.js';
import { checkOneBiasAdapter, prepareBiases } from './inject/bias.js';
import type { LoraEmbedding } from './layers/lora-embedding.js';
import { LoraLinear } from './layers/lora-linear.js';
import { BiasLinear } from './layers/trainable-bias.js';
import { loadAdapterWeights, readAdapterConfig } from './io/load.js';
import type { AdapterFiles, AdapterSource } from './io/format.js';
import { saveAdapterFiles, serializeAdapterFiles } from './io/save.js';

/** Options of {@link getPeftModel} and {@link PeftModel.addAdapter}. */
export interface AddAdapterOptions {
  /** Adapter name (default `"default"`). */
  readonly adapterName?: string;
  /** Seed of the RNG drawing the initial A (and B when `initLoraWeights` is false); default 0. */
  readonly seed?: number;
  /** Receives warnings (default `console.warn`). */
  readonly onWarning?: (message: string) => void;
}

/** Options of {@link PeftModel.loadAdapter} and {@link loadPeftModel}. */
export interface LoadAdapterOptions {
  /** Adapter name (default `"default"`). */
  readonly adapterName?: string;
  /** Make the loaded variables trainable (default false: inference only, as PEFT's `is_trainable`). */
  readonly isTrainable?: boolean;
  /** Receives warnings (default `console.warn`). */
  readonly onWarning?: (message: string) => void;
}

/** A warning handler that passes each distinct message on once (default `console.warn`). */
function onceEach(handler: WarningHandler | undefined): WarningHandler {
  const seen = new Set<string>();
  return (message: string) => {
    if (seen.has(message)) return;
    seen.add(message);
    (handler ?? console.warn)(message);
  };
}

/**
 * A causal LM with LoRA adapters injected into its linear modules. It is itself a
 * {@link CausalLM}: `forward`, generation, scoring and training use it like the base model, and
 * {@link PeftModel.trainableVariables} holds only the active adapter's variables.
 *
 * Several named adapters can live on one base: {@link PeftModel.addAdapter} /
 * {@link PeftModel.loadAdapter} add one, {@link PeftModel.setAdapter} switches,
 * {@link PeftModel.disableAdapter} runs the base model exactly, {@link PeftModel.deleteAdapter}
 * frees one.
 */
export class PeftModel implements CausalLM {
  private readonly configs = new Map<string, LoraConfig>();
  private active: string;
  private isTraining = false;

  /** Use {@link getPeftModel} or {@link loadPeftModel}. */
  constructor(
    /** The model whose modules were wrapped (shared, not copied). */
    readonly baseModel: CausalLM,
    adapterName: string,
    config: LoraConfig,
  ) {
    this.configs.set(adapterName, config);
    this.active = adapterName;
  }

  get config(): ModelConfig {
    return this.baseModel.config;
  }

  /** Name of the active adapter. */
  get activeAdapter(): string {
    return this.active;
  }

  /** Names of every adapter, in the order they were added. */
  get adapterNames(): string[] {
    return [...this.configs.keys()];
  }

  /** The config of an adapter (default: the active one), `targetModules` resolved. */
  peftConfig(adapterName: string = this.active): LoraConfig {
    const config = this.configs.get(adapterName);
    if (config === undefined) throw this.unknown(adapterName);
    return config;
  }

  forward(inputIds: tf.Tensor2D, options?: ForwardOptions): tf.Tensor3D {
    return this.baseModel.forward(inputIds, options);
  }

  makeCache(): KVCache {
    return this.baseModel.makeCache();
  }

  linearModules(): LinearSlot[] {
    return this.baseModel.linearModules();
  }

  embeddingModule(): EmbeddingSlot {
    return this.baseModel.embeddingModule();
  }

  lmHeadModule(): LinearSlot {
    return this.baseModel.lmHeadModule();
  }

  /** Variables of the active adapter where it is trainable (the base stays frozen). */
  trainableVariables(): tf.Variable[] {
    return this.baseModel.trainableVariables();
  }

  /** The LoRA linear layers by module path (the embedding's adapters: {@link PeftModel.loraEmbedding}). */
  loraLayers(): Map<string, LoraLinear> {
    return loraLayers(this.baseModel);
  }

  /** The LoRA-wrapped token embedding (`model.embed_tokens` targeted), if any. */
  loraEmbedding(): LoraEmbedding | undefined {
    return loraEmbedding(this.baseModel);
  }

  /**
   * The modules trained beside LoRA (`modulesToSave` copies, `trainableTokenIndices` rows) that
   * hold adapter `adapterName` (default: every adapter's), by module path.
   */
  auxiliaryLayers(adapterName?: string): AuxiliaryLayers {
    return auxiliaryFor(this.baseModel, adapterName);
  }

  /** Dropout on adapter inputs is applied only in training mode (default off). */
  train(mode = true): void {
    this.isTraining = mode;
    for (const layer of this.loraLayers().values()) layer.training = mode;
    const embedding = this.loraEmbedding();
    if (embedding !== undefined) embedding.training = mode;
  }

  /** Switches to inference mode (no dropout). */
  eval(): void {
    this.train(false);
  }

  /** True in training mode. */
  get training(): boolean {
    return this.isTraining;
  }

  /** Adds a freshly initialised adapter (not made active; see {@link PeftModel.setAdapter}). */
  addAdapter(adapterName: string, config: LoraConfig, options: Omit<AddAdapterOptions, 'adapterName'> = {}): void {
    if (this.configs.has(adapterName))
      throw new InvalidArgumentError({
        argument: 'adapterName',
        message: `adapter "${adapterName}" already exists; delete it first or pick another name.`,
      });
    checkOneBiasAdapter(this.configs.values(), config);
    checkAuxiliary(this.baseModel, config);
    const { config: resolved } = injectAdapter(this.baseModel, config, { ...options, adapterName, trainable: !config.inferenceMode });
    prepareBiases(this.baseModel, config.bias, !config.inferenceMode);
    injectAuxiliary(this.baseModel, config, { adapterName, trainable: !config.inferenceMode });
    this.configs.set(adapterName, resolved);
    this.refreshLayers();
  }

  /**
   * Loads a PEFT adapter folder (Node), or its files in memory ({@link AdapterFiles}), as adapter
   * `adapterName` (not made active unless it is the only one).
   */
  async loadAdapter(dir: AdapterSource, options: LoadAdapterOptions = {}): Promise<void> {
    const adapterName = options.adapterName ?? 'default';
    if (this.configs.has(adapterName))
      throw new InvalidArgumentError({
        argument: 'adapterName',
        message: `adapter "${adapterName}" already exists; delete it first or pick another name.`,
      });
    const config = await readAdapterConfig(dir, options.onWarning === undefined ? {} : { onWarning: options.onWarning });
    checkOneBiasAdapter(this.configs.values(), config);
    const trainable = options.isTrainable ?? false;
    checkAuxiliary(this.baseModel, config);
    // Weights come from the file: initialise with B = 0 (any init; pissa/olora need no SVD here).
    const {
      layers,
      embedding,
      config: resolved,
    } = injectAdapter(
      this.baseModel,
      { ...config, initLoraWeights: true },
      { adapterName, trainable, ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }) },
    );
    try {
      injectAuxiliary(this.baseModel, config, { adapterName, trainable });
      await loadAdapterWeights(dir, layers, adapterName, {
        model: this.baseModel,
        config,
        trainable,
        auxiliary: auxiliaryFor(this.baseModel, adapterName),
        ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
      });
    } catch (error) {
      for (const layer of layers.values()) layer.deleteAdapter(adapterName);
      embedding?.deleteAdapter(adapterName);
      deleteAuxiliaryAdapter(this.baseModel, adapterName);
      throw error;
    }
    this.configs.set(adapterName, { ...resolved, initLoraWeights: config.initLoraWeights, inferenceMode: !trainable });
    this.refreshLayers();
  }

  /** Makes `adapterName` the active adapter. */
  setAdapter(adapterName: string): void {
    if (!this.configs.has(adapterName)) throw this.unknown(adapterName);
    this.active = adapterName;
    this.refreshLayers();
  }

  /** Removes an adapter and frees its variables (another adapter becomes active if it was). */
  deleteAdapter(adapterName: string): void {
    if (!this.configs.has(adapterName)) throw this.unknown(adapterName);
    for (const layer of this.loraLayers().values()) if (layer.adapterNames().includes(adapterName)) layer.deleteAdapter(adapterName);
    const embedding = this.loraEmbedding();
    if (embedding?.adapterNames().includes(adapterName) === true) embedding.deleteAdapter(adapterName);
    deleteAuxiliaryAdapter(this.baseModel, adapterName);
    this.configs.delete(adapterName);
    if (this.active === adapterName) this.active = this.configs.keys().next().value ?? '';
    this.refreshLayers();
  }

  /**
   * Runs `fn` with every adapter disabled (the outputs are exactly the base model's), then
   * re-enables them — also when `fn` throws or its promise rejects. Merged adapters are unmerged
   * first, as in PEFT, when the base is a plain `Linear`; adapters merged into a 4-bit base need
   * `await peft.unmerge()` before (requantizing is asynchronous), otherwise the forward throws.
   * With `bias` trained (PEFT `bias`), the biases stay trained, so the outputs are not the base
   * model's: PEFT's warning is given (`options.onWarning`, default `console.warn`).
   *
   * @example
   * ```ts
   * const baseLogits = peft.disableAdapter(() => peft.forward(ids));
   * ```
   */
  disableAdapter<T>(fn: () => T, options: { onWarning?: (message: string) => void } = {}): T {
    const bias = this.configs.get(this.active)?.bias ?? 'none';
    if (bias !== 'none') {
      (options.onWarning ?? console.warn)(
        `Careful, disabling adapter layers with bias configured to be '${bias}' does not produce the same output as the base model would without adaption.`,
      );
    }
    const layers: { disabled: boolean }[] = [...this.loraLayers().values()];
    const embedding = this.loraEmbedding();
    if (embedding !== undefined) layers.push(embedding);
    const set = (v: boolean) => {
      for (const layer of layers) layer.disabled = v;
      setAuxiliaryState(this.baseModel, { disabled: v });
    };
    set(true);
    let result: T;
    try {
      result = fn();
    } catch (error) {
      set(false);
      throw error;
    }
    if (result instanceof Promise) return result.finally(() => set(false)) as T;
    set(false);
    return result;
  }

  /**
   * Folds the active adapter into the base weights (forward then costs the base only). On a 4-bit
   * base each layer is dequantized, summed and requantized; PEFT's rounding warning is reported
   * once per call (PEFT warns per layer, and Python's default warning filter shows it once).
   * Asynchronous (see {@link LoraLinear.merge}): await it before the next forward.
   *
   * @throws LoraError when an active adapter is on a tied `lm_head` or `embed_tokens`: PEFT warns
   * and writes it into the shared table, changing the other side too.
   */
  async merge(options: { safe?: boolean; onWarning?: (message: string) => void } = {}): Promise<void> {
    const embedding = this.loraEmbedding();
    if (this.config.tieWordEmbeddings && embedding !== undefined && embedding.activeAdapters().length > 0) {
      throw new LoraError(
        "Model with `tie_word_embeddings=True` and the tied_target_modules=['embed_tokens'] are part of the adapter: merging would write the adapter into the table model.embed_tokens shares with lm_head (PEFT does, changing the output head as well). Load the base with `tie_word_embeddings: false` to merge, or keep the adapter unmerged.",
      );
    }
    const head = this.loraLayers().get('lm_head');
    if (this.config.tieWordEmbeddings && head !== undefined && head.activeAdapters().length > 0) {
      // PEFT warns (`_check_merge_allowed`) and then writes the head's delta into the table it
      // shares with embed_tokens, changing the input embedding too; refuse instead.
      throw new LoraError(
        "Model with `tie_word_embeddings=True` and the tied_target_modules=['lm_head'] are part of the adapter: merging would write the adapter into the weight lm_head shares with model.embed_tokens (PEFT does, changing the input embedding as well). Load the base with `tie_word_embeddings: false` (lm_head a copy of embed_tokens) to merge, or keep the adapter unmerged.",
      );
    }
    const onWarning = onceEach(options.onWarning);
    for (const layer of this.loraLayers().values()) await layer.merge(layer.activeAdapters(), { ...options, onWarning });
    await embedding?.merge(embedding.activeAdapters(), options.safe === undefined ? {} : { safe: options.safe });
  }

  /**
   * Undoes {@link PeftModel.merge} (a 4-bit base is requantized again, with PEFT's warning once).
   * Asynchronous, like `merge`.
   */
  async unmerge(options: { onWarning?: (message: string) => void } = {}): Promise<void> {
    const onWarning = onceEach(options.onWarning);
    for (const layer of this.loraLayers().values()) if (layer.mergedAdapters().length > 0) await layer.unmerge({ ...options, onWarning });
    this.loraEmbedding()?.unmerge();
  }

  /**
   * Merges the active adapter, puts the base layers back in place of the LoRA wrappers and frees
   * every adapter. Resolves to the base model, now holding the merged weights; this PeftModel must
   * not be used afterwards.
   */
  async mergeAndUnload(options: { safe?: boolean; onWarning?: (message: string) => void } = {}): Promise<CausalLM> {
    await this.merge(options);
    unloadAuxiliary(this.baseModel, { merge: true });
    return this.unload();
  }

  /** Puts the base layers back (without merging) and frees every adapter; returns the base model. */
  unload(): CausalLM {
    for (const s of adaptableLinearSlots(this.baseModel)) {
      const m = s.get() as LinearLike | LoraLinear | BiasLinear;
      // LoRA and trained-bias wrappers; modules_to_save copies are unloaded by unloadAuxiliary.
      if (m instanceof LoraLinear || m instanceof BiasLinear) s.set(m.unload());
    }
    const embedding = this.loraEmbedding();
    if (embedding !== undefined) this.baseModel.embeddingModule().set(embedding.unload());
    unloadAuxiliary(this.baseModel, { merge: false });
    this.configs.clear();
    return this.baseModel;
  }

  /**
   * Saves an adapter (default: the active one) as a PEFT folder, with the trained biases (`bias`)
   * and the base weights of an adapted `lm_head` / `embed_tokens` that PEFT saves too (it warns
   * then, as PEFT does). Its `base_model_name_or_path` is the adapter config's, or else the base
   * model's `config.nameOrPath` (set by `loadModel`), as PEFT's `AutoPeftModelForCausalLM` needs one
   * to find the base.
   *
   * @throws InvalidArgumentError when neither names the base model.
   */
  async saveAdapter(
    dir: string,
    adapterName: string = this.active,
    options: { onWarning?: (message: string) => void } = {},
  ): Promise<void> {
    await saveAdapterFiles(dir, this.loraLayers(), this.savedConfig(adapterName), adapterName, {
      model: this.baseModel,
      auxiliary: this.auxiliaryLayers(adapterName),
      ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    });
  }

  /**
   * The files {@link PeftModel.saveAdapter} writes, in memory and byte for byte the same
   * (`adapter_config.json` text and `adapter_model.safetensors` bytes): what a browser offers as a
   * download. Set `base_model_name_or_path` with `loraConfig({ baseModelNameOrPath })` or
   * `loadModelFromFiles(files, { nameOrPath })`.
   *
   * @throws InvalidArgumentError when neither names the base model.
   * @example
   * ```ts
   * const files = await peft.adapterFiles();
   * const url = URL.createObjectURL(new Blob([files['adapter_model.safetensors']]));
   * ```
   */
  async adapterFiles(adapterName: string = this.active, options: { onWarning?: (message: string) => void } = {}): Promise<AdapterFiles> {
    return serializeAdapterFiles(this.loraLayers(), this.savedConfig(adapterName), adapterName, {
      model: this.baseModel,
      auxiliary: this.auxiliaryLayers(adapterName),
      ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    });
  }

  /** The config an adapter is saved with: `base_model_name_or_path` filled from the base model. */
  private savedConfig(adapterName: string): LoraConfig {
    const config = this.peftConfig(adapterName);
    const baseModelNameOrPath = config.baseModelNameOrPath ?? this.baseModel.config.nameOrPath ?? null;
    if (baseModelNameOrPath === null) {
      throw new InvalidArgumentError({
        argument: 'baseModelNameOrPath',
        message:
          'the base model has no name or path to write as `base_model_name_or_path` (PEFT needs it to find the base): ' +
          'load the base with loadModel, or pass loraConfig({ baseModelNameOrPath }).',
      });
    }
    return { ...config, baseModelNameOrPath };
  }

  dispose(): void {
    this.baseModel.dispose();
    this.configs.clear();
  }

  private refreshLayers(): void {
    const layers: (LoraLinear | LoraEmbedding)[] = [...this.loraLayers().values()];
    const embedding = this.loraEmbedding();
    if (embedding !== undefined) layers.push(embedding);
    for (const layer of layers) {
      layer.setAdapter(this.active === '' ? [] : [this.active]);
      layer.training = this.isTraining;
    }
    setAuxiliaryState(this.baseModel, { active: this.active === '' ? [] : [this.active] });
  }

  private unknown(adapterName: string): InvalidArgumentError {
    return new InvalidArgumentError({
      argument: 'adapterName',
      message: `no adapter "${adapterName}" (adapters: ${this.adapterNames.join(', ') || 'none'}).`,
    });
  }
}

type LinearLike = ReturnType<LinearSlot['get']>;

/**
 * Wraps the modules of `model` that `config` targets with LoRA adapters (B = 0, so the first
 * forward equals the base model's) and returns the {@link PeftModel}.
 *
 * @example
 * ```ts
 * const { model } = await loadModel(dir);
 * const peft = getPeftModel(model, loraConfig({ r: 16, loraAlpha: 32, targetModules: 'all-linear' }));
 * peft.trainableVariables(); // lora_A / lora_B variables only
 * await peft.saveAdapter('out/adapter');
 * ```
 */
export function getPeftModel(model: CausalLM, config: LoraConfig, options: AddAdapterOptions = {}): PeftModel {
  const adapterName = options.adapterName ?? 'default';
  checkAuxiliary(model, config);
  const { config: resolved } = injectAdapter(model, config, {
    adapterName,
    trainable: !config.inferenceMode,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
  });
  prepareBiases(model, config.bias, !config.inferenceMode);
  injectAuxiliary(model, config, { adapterName, trainable: !config.inferenceMode });
  const peft = new PeftModel(model, adapterName, resolved);
  peft.setAdapter(adapterName);
  return peft;
}

/**
 * Loads a PEFT adapter folder (`adapter_config.json` + `adapter_model.safetensors`), or those files
 * in memory ({@link AdapterFiles}, e.g. in a browser), onto `model` (PEFT `PeftModel.from_pretrained`).
 *
 * @example
 * ```ts
 * const peft = await loadPeftModel((await loadModel(baseDir)).model, 'adapters/carbot');
 * ```
 */
export async function loadPeftModel(model: CausalLM, dir: AdapterSource, options: LoadAdapterOptions = {}): Promise<PeftModel> {
  const adapterName = options.adapterName ?? 'default';
  const config = await readAdapterConfig(dir, options.onWarning === undefined ? {} : { onWarning: options.onWarning });
  const trainable = options.isTrainable ?? false;
  checkAuxiliary(model, config);
  const { layers, config: resolved } = injectAdapter(
    model,
    { ...config, initLoraWeights: true },
    {
      adapterName,
      trainable,
      ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    },
  );
  const peft = new PeftModel(model, adapterName, { ...resolved, initLoraWeights: config.initLoraWeights, inferenceMode: !trainable });
  try {
    injectAuxiliary(model, config, { adapterName, trainable });
    await loadAdapterWeights(dir, layers, adapterName, {
      model,
      config,
      trainable,
      auxiliary: auxiliaryFor(model, adapterName),
      ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    });
  } catch (error) {
    peft.unload(); // leave `model` as it was
    throw error;
  }
  peft.setAdapter(adapterName);
  return peft;
}

/** The auxiliary modules of `model` holding adapter `adapterName` (all of them when undefined). */
function auxiliaryFor(model: CausalLM, adapterName: string | undefined): AuxiliaryLayers {
  const all = auxiliaryLayers(model);
  if (adapterName === undefined) return all;
  const has = (m: { adapterNames(): string[] }) => m.adapterNames().includes(adapterName);
  return {
    modulesToSave: new Map([...all.modulesToSave].filter(([, m]) => has(m))),
    trainableTokens: new Map([...all.trainableTokens].filter(([, m]) => has(m))),
  };
}
