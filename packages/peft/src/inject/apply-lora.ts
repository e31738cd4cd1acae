import { InvalidArgumentError, LoraError, Rng } from '@lora/core';
import type { CausalLM, EmbeddingSlot, LinearSlot, LinearLike } from '@lora/models';
import { type LoraConfig, withLoraConfig } from '../config/lora-config.js';
import { LoraEmbedding } from '../layers/lora-embedding.js';
import { LoraLinear } from '../layers/lora-linear.js';
import { TIED_EMBEDDING_WARNING, isTargetModule, patternValue, resolveTargetModules, targetsEmbeddingLayer } from './target-modules.js';

/** Options of {@link injectAdapter}. */
export interface InjectOptions {
  /** Name of the adapter in every wrapped layer. */
  readonly adapterName: string;
  /** Seed of the RNG that draws the initial weights, in module order (default 0). */
  readonly seed?: number;
  /** Whether the new variables are trainable. */
  readonly trainable: boolean;
  /** Receives warnings (default `console.warn`). */
  readonly onWarning?: (message: string) => void;
}

/** One wrapper type the injector can put in place of a base module (first match wins). */
interface Dispatcher {
  readonly name: string;
  matches(module: LinearLike): boolean;
  wrap(module: LinearLike): LoraLinear;
}

function isLinearLike(module: unknown): module is LinearLike {
  const m = module as Partial<LinearLike> | undefined;
  return (
    m !== undefined &&
    typeof m.inFeatures === 'number' &&
    typeof m.outFeatures === 'number' &&
    typeof m.apply === 'function' &&
    typeof m.denseWeight === 'function'
  );
}

const DISPATCHERS: readonly Dispatcher[] = [
  { name: 'LoraLinear (adds another adapter)', matches: (m) => m instanceof LoraLinear, wrap: (m) => m as LoraLinear },
  { name: 'LinearLike (Linear from @lora/models, Nf4Linear from @lora/quant)', matches: isLinearLike, wrap: (m) => new LoraLinear(m) },
];

/**
 * The linear modules an adapter can target: {@link CausalLM.linearModules} plus `lm_head` when it
 * is tied to the embedding (PEFT adapts a tied head too; the wrapper keeps the shared weight alive).
 */
export function adaptableLinearSlots(model: CausalLM): LinearSlot[] {
  const slots = model.linearModules();
  if (model.config.tieWordEmbeddings) slots.push(model.lmHeadModule());
  return slots;
}

/**
 * The modules a config selects in `model` (linear slots, and the token embedding when
 * `embed_tokens` is targeted), and the config with `targetModules` resolved as PEFT saves it. For
 * the text decoder of a multimodal checkpoint (Gemma3ForConditionalGeneration) the resolved
 * `targetModules` is the explicit list of selected paths (`model.language_model.…`), with
 * `layersToTransform` / `layersPattern` already applied: names such as `q_proj` would also select
 * the vision tower's modules in PEFT, which would then miss their tensors.
 */
export function selectTargets(
  model: CausalLM,
  config: LoraConfig,
  options: { onWarning?: (message: string) => void } = {},
): { slots: LinearSlot[]; embedding: EmbeddingSlot | undefined; config: LoraConfig } {
  const slots = adaptableLinearSlots(model);
  const embeddingSlot = model.embeddingModule();
  const targets = resolveTargetModules(
    config,
    model.config.modelType,
    slots.map((s) => s.path),
  );
  const selected = slots.filter((s) => isTargetModule(config, targets, s.path));
  const embedding = isTargetModule(config, targets, embeddingSlot.path) ? embeddingSlot : undefined;
  const paths = [...slots.map((s) => s.path), embeddingSlot.path];
  const multimodal = model.config.multimodal;
  if (typeof targets !== 'string' && selected.length + (embedding === undefined ? 0 : 1) > 0) {
    // PEFT only fails when nothing matches; a typo beside a valid name would silently train less.
    const unmatched = targets.filter((name) => !paths.some((p) => p === name || p.endsWith(`.${name}`)));
    if (unmatched.length > 0 && multimodal) {
      // Names of the vision tower's modules (PEFT's "all-linear" lists fc1, fc2, out_proj).
      (options.onWarning ?? console.warn)(
        `target modules ${unmatched.map((n) => `\`${n}\``).join(', ')} match no module of the text decoder of ${model.config.architecture ?? 'the model'} (the vision tower is not loaded); they are ignored.`,
      );
    } else if (unmatched.length > 0) {
      const names = [...new Set(paths.map((p) => p.split('.').at(-1) as string))];
      throw new InvalidArgumentError({
        argument: 'LoraConfig.targetModules',
        message: `${unmatched.map((n) => `\`${n}\``).join(', ')} ${unmatched.length === 1 ? 'matches' : 'match'} no module of the base model (its adaptable modules are named: ${names.join(', ')}).`,
      });
    }
  }
  if (selected.length === 0 && embedding === undefined) {
    const shown = typeof targets === 'string' ? `regex "${targets}"` : `[${targets.join(', ')}]`;
    throw new InvalidArgumentError({
      argument: 'LoraConfig.targetModules',
      message: `Target modules ${shown} not found in the base model (its adaptable modules: ${paths.join(', ')}). Please check the target modules and try again.`,
    });
  }
  const resolved = multimodal
    ? withLoraConfig(config, {
        targetModules: [...selected.map((s) => s.path), ...(embedding === undefined ? [] : [embedding.path])],
        layersToTransform: null,
        layersPattern: null,
      })
    : typeof targets === 'string'
      ? config
      : withLoraConfig(config, { targetModules: targets });
  return { slots: selected, embedding, config: resolved };
}

/**
 * Adds an adapter to every module of `model` that `config` targets, wrapping plain linears in a
 * {@link LoraLinear} through their slots (modules already wrapped get one more adapter). Returns
 * the wrapped layers by path and the config with `targetModules` resolved.
 *
 * @throws LoraError when a target is of an unsupported type (the message lists supported ones).
 */
export function injectAdapter(
  model: CausalLM,
  config: LoraConfig,
  options: InjectOptions,
): { layers: Map<string, LoraLinear>; embedding: LoraEmbedding | undefined; config: LoraConfig } {
  const {
    slots,
    embedding: embeddingSlot,
    config: resolved,
  } = selectTargets(model, config, options.onWarning === undefined ? {} : { onWarning: options.onWarning });
  if (model.config.tieWordEmbeddings && targetsEmbeddingLayer(config.targetModules)) {
    // PEFT warns and adapts the head alone; the shared table stays the base's (see PeftModel.merge).
    (options.onWarning ?? console.warn)(TIED_EMBEDDING_WARNING);
  }
  const rng = new Rng(options.seed ?? 0);
  const layers = new Map<string, LoraLinear>();
  for (const s of slots) {
    const module = s.get();
    const dispatcher = DISPATCHERS.find((d) => d.matches(module));
    if (dispatcher === undefined) {
      throw new LoraError(
        `Target module ${s.path} (${(module as object).constructor?.name ?? typeof module}) is not supported. Currently, only the following modules are supported: ${DISPATCHERS.map((d) => d.name).join('; ')}.`,
      );
    }
    const layer = dispatcher.wrap(module);
    layer.addAdapter(options.adapterName, {
      r: patternValue(config.rankPattern, s.path, config.r),
      loraAlpha: patternValue(config.alphaPattern, s.path, config.loraAlpha),
      useRslora: config.useRslora,
      useDora: config.useDora,
      loraDropout: config.loraDropout,
      initLoraWeights: config.initLoraWeights,
      rng,
      trainable: options.trainable,
      path: s.path,
      ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
    });
    if (layer !== module) s.set(layer);
    layers.set(s.path, layer);
  }
  let embedding: LoraEmbedding | undefined;
  if (embeddingSlot !== undefined) {
    const module = embeddingSlot.get();
    embedding = module instanceof LoraEmbedding ? module : new LoraEmbedding(module);
    embedding.addAdapter(options.adapterName, {
      r: patternValue(config.rankPattern, embeddingSlot.path, config.r),
      loraAlpha: patternValue(config.alphaPattern, embeddingSlot.path, config.loraAlpha),
      useRslora: config.useRslora,
      useDora: config.useDora,
      loraDropout: config.loraDropout,
      initLoraWeights: config.initLoraWeights,
      rng,
      trainable: options.trainable,
      path: embeddingSlot.path,
    });
    if (embedding !== module) embeddingSlot.set(embedding);
  }
  return { layers, embedding, config: resolved };
}

/** The {@link LoraEmbedding} in place of `model.embed_tokens`, if adapters wrap it. */
export function loraEmbedding(model: CausalLM): LoraEmbedding | undefined {
  const module = model.embeddingModule().get();
  return module instanceof LoraEmbedding ? module : undefined;
}

/** Every {@link LoraLinear} currently in `model`, by module path. */
export function loraLayers(model: CausalLM): Map<string, LoraLinear> {
  const out = new Map<string, LoraLinear>();
  for (const s of adaptableLinearSlots(model)) {
    const m = s.get();
    if (m instanceof LoraLinear) out.set(s.path, m);
  }
  return out;
}
