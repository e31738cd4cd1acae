import { InvalidArgumentError } from '@lora/core';
import type { CausalLM, EmbeddingSlot, LinearSlot, EmbeddingLike, LinearLike } from '@lora/models';
import { Embedding, Linear } from '@lora/models/internal';
import type * as tf from '@tensorflow/tfjs';
import type { LoraConfig } from '../config/lora-config.js';
import { LoraLinear } from '../layers/lora-linear.js';
import { checkTokenIndices } from '../layers/trainable-tokens.js';
import { selectTargets } from './apply-lora.js';
import { ModulesToSaveEmbedding, ModulesToSaveLinear } from '../layers/modules-to-save.js';
import { TrainableTokensEmbedding, TrainableTokensLinear } from '../layers/trainable-tokens.js';

/** The modules PEFT trains beside LoRA (`modules_to_save`, `trainable_token_indices`), by module path. */
export interface AuxiliaryLayers {
  /** Fully trained copies, by module path (`lm_head`, `model.embed_tokens`, …). */
  readonly modulesToSave: Map<string, ModulesToSaveLinear | ModulesToSaveEmbedding>;
  /** Trainable embedding rows, by module path (`model.embed_tokens`). */
  readonly trainableTokens: Map<string, TrainableTokensEmbedding>;
}

/** Every module slot `modules_to_save` can name: the embedding, the linears, and a tied `lm_head`. */
function moduleSlots(model: CausalLM): (LinearSlot | EmbeddingSlot)[] {
  const slots: (LinearSlot | EmbeddingSlot)[] = [model.embeddingModule(), ...model.linearModules()];
  if (model.config.tieWordEmbeddings) slots.push(model.lmHeadModule());
  return slots;
}

const isEmbeddingSlot = (model: CausalLM, s: LinearSlot | EmbeddingSlot): s is EmbeddingSlot => s.path === model.embeddingModule().path;

/** The wrappers of `modules_to_save` / `trainable_token_indices` currently in `model`. */
export function auxiliaryLayers(model: CausalLM): AuxiliaryLayers {
  const out: AuxiliaryLayers = { modulesToSave: new Map(), trainableTokens: new Map() };
  for (const s of moduleSlots(model)) {
    const m = s.get();
    if (m instanceof ModulesToSaveLinear || m instanceof ModulesToSaveEmbedding) out.modulesToSave.set(s.path, m);
    if (m instanceof TrainableTokensEmbedding) out.trainableTokens.set(s.path, m);
  }
  return out;
}

/** The embedding token lists of a config, by the embedding's module path. */
function tokenTargets(model: CausalLM, config: LoraConfig): Map<string, readonly number[]> {
  const spec = config.trainableTokenIndices;
  const out = new Map<string, readonly number[]>();
  if (spec === null) return out;
  const embedding = model.embeddingModule().path;
  if (Array.isArray(spec)) {
    out.set(embedding, spec as readonly number[]);
    return out;
  }
  for (const [name, indices] of Object.entries(spec as Record<string, readonly number[]>)) {
    if (embedding !== name && !embedding.endsWith(`.${name}`)) {
      throw new InvalidArgumentError({
        argument: 'LoraConfig.trainableTokenIndices',
        message: `\`${name}\` is not the model's token embedding (${embedding}); trainable tokens are supported on the input embedding only.`,
      });
    }
    out.set(embedding, indices);
  }
  return out;
}

/**
 * Checks a config's `modulesToSave` and `trainableTokenIndices` against `model` without changing
 * it (call before injecting anything, so a bad config leaves the model as it was).
 *
 * @throws InvalidArgumentError naming the option.
 */
export function checkAuxiliary(model: CausalLM, config: LoraConfig): void {
  const saved = config.modulesToSave ?? [];
  if (saved.length === 0 && config.trainableTokenIndices === null) return;
  const loraPaths = new Set(selectTargets(model, config).slots.map((s) => s.path));
  const slots = moduleSlots(model);
  for (const name of saved) {
    const matched = slots.filter((s) => s.path.endsWith(name));
    if (matched.length === 0) {
      throw new InvalidArgumentError({
        argument: 'LoraConfig.modulesToSave',
        message: `\`${name}\` matches no module of the base model (modules: model.embed_tokens, lm_head and the linear layers, e.g. ${slots[1]?.path ?? 'none'}).`,
      });
    }
    for (const s of matched) {
      if (loraPaths.has(s.path) || s.get() instanceof LoraLinear) {
        throw new InvalidArgumentError({
          argument: 'LoraConfig.modulesToSave',
          message: `${s.path} is both a LoRA target (\`targetModules\`) and in \`modulesToSave\`; keep it in one of them.`,
        });
      }
    }
  }
  for (const indices of tokenTargets(model, config).values()) {
    checkTokenIndices(indices, model.embeddingModule().get().numEmbeddings, 'LoraConfig.trainableTokenIndices');
  }
  if (tokenTargets(model, config).size > 0 && model.config.tieWordEmbeddings) {
    const head = model.lmHeadModule();
    if (head.get() instanceof ModulesToSaveLinear || saved.some((name) => head.path.endsWith(name))) throw both(head.path);
  }
}

/**
 * Adds adapter `adapterName`'s `modules_to_save` copies and trainable token rows to `model`
 * (after its LoRA layers are in place), wrapping modules through their slots. With a tied
 * `lm_head`, trainable tokens also wrap the head so its logits follow the trained rows (PEFT's
 * tied `TrainableTokensLayer`).
 *
 * @throws InvalidArgumentError when a name matches no module, or a module is both a LoRA target
 * and fully trained.
 */
export function injectAuxiliary(
  model: CausalLM,
  config: LoraConfig,
  options: { adapterName: string; trainable: boolean },
): AuxiliaryLayers {
  const { adapterName, trainable } = options;
  checkAuxiliary(model, config);
  const slots = moduleSlots(model);
  for (const name of config.modulesToSave ?? []) {
    const matched = slots.filter((s) => s.path.endsWith(name));
    if (matched.length === 0) {
      throw new InvalidArgumentError({
        argument: 'LoraConfig.modulesToSave',
        message: `\`${name}\` matches no module of the base model (modules: model.embed_tokens, lm_head and the linear layers, e.g. ${slots[1]?.path ?? 'none'}).`,
      });
    }
    for (const s of matched) {
      if (isEmbeddingSlot(model, s)) {
        const m = s.get();
        if (m instanceof TrainableTokensEmbedding) throw both(s.path);
        const wrapper = m instanceof ModulesToSaveEmbedding ? m : new ModulesToSaveEmbedding(m);
        wrapper.addAdapter(adapterName, { trainable });
        if (wrapper !== m) s.set(wrapper);
      } else {
        const slot = s as LinearSlot;
        const m = slot.get();
        if (m instanceof LoraLinear) {
          throw new InvalidArgumentError({
            argument: 'LoraConfig.modulesToSave',
            message: `${s.path} is both a LoRA target (\`targetModules\`) and in \`modulesToSave\`; keep it in one of them.`,
          });
        }
        if (m instanceof TrainableTokensLinear) throw both(s.path);
        const wrapper = m instanceof ModulesToSaveLinear ? m : new ModulesToSaveLinear(m);
        wrapper.addAdapter(adapterName, { trainable });
        if (wrapper !== m) slot.set(wrapper);
      }
    }
  }
  for (const [path, indices] of tokenTargets(model, config)) {
    const slot = model.embeddingModule();
    const m = slot.get();
    if (m instanceof ModulesToSaveEmbedding) throw both(path);
    const wrapper = m instanceof TrainableTokensEmbedding ? m : new TrainableTokensEmbedding(m);
    wrapper.addAdapter(adapterName, indices, { trainable });
    if (wrapper !== m) slot.set(wrapper);
    if (model.config.tieWordEmbeddings) {
      const head = model.lmHeadModule();
      const h = head.get();
      if (h instanceof ModulesToSaveLinear) throw both('lm_head');
      if (!(h instanceof TrainableTokensLinear)) head.set(new TrainableTokensLinear(h, wrapper));
    }
  }
  return auxiliaryLayers(model);
}

function both(path: string): InvalidArgumentError {
  return new InvalidArgumentError({
    argument: 'LoraConfig.trainableTokenIndices',
    message: `${path} is both in \`modulesToSave\` and \`trainableTokenIndices\`; a fully trained module already trains every row.`,
  });
}

/** Sets the active adapter (or none) and the disabled flag of every auxiliary module of `model`. */
export function setAuxiliaryState(model: CausalLM, state: { active?: readonly string[]; disabled?: boolean }): void {
  const aux = auxiliaryLayers(model);
  for (const m of [...aux.modulesToSave.values(), ...aux.trainableTokens.values()]) {
    if (state.active !== undefined) m.setAdapter(state.active);
    if (state.disabled !== undefined) m.disabled = state.disabled;
  }
}

/** Frees adapter `adapterName` in every auxiliary module (the wrappers stay, possibly empty). */
export function deleteAuxiliaryAdapter(model: CausalLM, adapterName: string): void {
  const aux = auxiliaryLayers(model);
  for (const m of [...aux.modulesToSave.values(), ...aux.trainableTokens.values()]) m.deleteAdapter(adapterName);
}

/**
 * Removes every auxiliary wrapper, putting the original modules back. With `merge`, the active
 * adapter's result is put in place instead (PEFT `merge_and_unload`): a fully trained copy, or
 * the table with the trained rows written in (a tied head gets the same rows, as a separate weight).
 */
export function unloadAuxiliary(model: CausalLM, options: { merge: boolean }): void {
  const slots: { path: string; get(): LinearLike | EmbeddingLike; set(module: LinearLike | EmbeddingLike): void }[] = [
    model.embeddingModule() as never,
    ...(model.linearModules() as never[]),
  ];
  if (model.config.tieWordEmbeddings) slots.push(model.lmHeadModule() as never);
  const embeddingBefore = model.embeddingModule().get();
  const originals: { path: string; module: LinearLike | EmbeddingLike }[] = [];
  // Merged modules are computed before any wrapper is unloaded: a tied head reads the embedding's rows.
  const replacements = new Map<string, LinearLike | EmbeddingLike>();
  if (options.merge) {
    for (const s of slots) {
      const m = s.get();
      if (m instanceof ModulesToSaveLinear || m instanceof ModulesToSaveEmbedding) replacements.set(s.path, freezeCopy(m.current()));
      else if (m instanceof TrainableTokensEmbedding || m instanceof TrainableTokensLinear) replacements.set(s.path, freezeCopy(m));
    }
  }
  for (const s of slots) {
    const m = s.get();
    const wrapper =
      m instanceof ModulesToSaveLinear ||
      m instanceof ModulesToSaveEmbedding ||
      m instanceof TrainableTokensEmbedding ||
      m instanceof TrainableTokensLinear;
    if (!wrapper) continue;
    if (!options.merge) {
      s.set(m.unload());
      continue;
    }
    s.set(replacements.get(s.path) as LinearLike | EmbeddingLike);
    originals.push({ path: s.path, module: m.unload() });
  }
  // A tied head's original weight is the embedding's table: free it only if the embedding was replaced too.
  const keepHead = model.config.tieWordEmbeddings && model.embeddingModule().get() === embeddingBefore;
  for (const o of originals) if (!(keepHead && o.path === model.lmHeadModule().path)) o.module.dispose();
}

/** A frozen, self-owned module with `m`'s effective weights. */
function freezeCopy(m: LinearLike | EmbeddingLike): LinearLike | EmbeddingLike {
  if ('numEmbeddings' in m) return new Embedding(m.denseWeight(), 'vocab-major', { scale: m.scale });
  const bias = m.bias?.clone();
  return new Linear(m.denseWeight(), bias === undefined ? {} : { bias });
}

/** Trainable variables of the auxiliary modules (for tests and reports). */
export function auxiliaryVariables(model: CausalLM): tf.Variable[] {
  const aux = auxiliaryLayers(model);
  return [...aux.modulesToSave.values(), ...aux.trainableTokens.values()].flatMap((m) => m.trainableVariables());
}
