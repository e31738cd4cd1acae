import { InvalidArgumentError } from '@lora/core';
import type { LoraConfig } from '../config/lora-config.js';

/** `target_modules` value that selects every linear layer except the output head. */
export const ALL_LINEAR = 'all-linear';

/** PEFT's default targets per model type (`TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING`). */
export const DEFAULT_TARGET_MODULES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  llama: ['q_proj', 'v_proj'],
  mistral: ['q_proj', 'v_proj'],
  qwen3: ['q_proj', 'v_proj'],
  gemma3_text: ['q_proj', 'v_proj'],
  gemma3: ['q_proj', 'v_proj'],
});

/** Module path of the output head, never adapted by `"all-linear"`. */
const OUTPUT_HEAD = 'lm_head';

/**
 * Compiles a Python `re` pattern for JavaScript: named groups `(?P<n>…)` become `(?<n>…)`,
 * backreferences `(?P=n)` become `\k<n>`. `fullMatch` anchors it as `re.fullmatch` does.
 */
export function pythonRegex(pattern: string, { fullMatch = false, prefix = '' }: { fullMatch?: boolean; prefix?: string } = {}): RegExp {
  const js = pattern.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
  try {
    return new RegExp(fullMatch ? `^(?:${prefix}(?:${js}))$` : `^${prefix}${js}`, 'u');
  } catch (error) {
    throw new InvalidArgumentError({
      argument: 'pattern',
      message: `"${pattern}" is not a valid regular expression: ${(error as Error).message}`,
      cause: error,
    });
  }
}

/**
 * Resolves `target_modules` the way PEFT does before injecting: `null` → the model type's default
 * list, `"all-linear"` → the full paths of every linear module except `lm_head`.
 */
export function resolveTargetModules(config: LoraConfig, modelType: string, linearPaths: readonly string[]): readonly string[] | string {
  const t = config.targetModules;
  if (t === null) {
    const defaults = DEFAULT_TARGET_MODULES[modelType];
    if (defaults === undefined) {
      throw new InvalidArgumentError({
        argument: 'LoraConfig.targetModules',
        message: `no default target modules for model type "${modelType}"; pass a list, a regex or "all-linear".`,
      });
    }
    return defaults;
  }
  if (typeof t === 'string' && t.toLowerCase() === ALL_LINEAR) return linearPaths.filter((p) => p !== OUTPUT_HEAD);
  return t;
}

function matchesList(list: readonly string[], path: string): boolean {
  return list.includes(path) || list.some((name) => path.endsWith(`.${name}`));
}

/** The first layer index in `path` (`….layers.3.…`), as PEFT finds it; `undefined` when none. */
function layerIndex(path: string, layersPattern: readonly string[] | string | null): number | undefined {
  const patterns =
    layersPattern === null || layersPattern.length === 0 ? [] : typeof layersPattern === 'string' ? [layersPattern] : layersPattern;
  let match: RegExpExecArray | null = null;
  if (patterns.length === 0) {
    match = /^.*?\.[^.]*\.(?<idx>\d+)\./u.exec(path);
  } else {
    for (const pattern of patterns) {
      match = pythonRegex(`(?:^|.*?\\.)${pattern}\\.(?<idx>\\d+)\\.`).exec(path);
      if (match !== null) break;
    }
  }
  const idx = match?.groups?.idx;
  return idx === undefined ? undefined : Number(idx);
}

/**
 * Whether the module at `path` gets an adapter (PEFT `check_target_module_exists`):
 * `excludeModules` first, then `targetModules` (already resolved, see
 * {@link resolveTargetModules}) as a full-match regex or a list of names, then
 * `layersToTransform` / `layersPattern` for list targets matched by suffix.
 */
export function isTargetModule(config: LoraConfig, targets: readonly string[] | string, path: string): boolean {
  const exclude = config.excludeModules;
  if (exclude !== null) {
    if (typeof exclude === 'string' ? pythonRegex(exclude, { fullMatch: true }).test(path) : matchesList(exclude, path)) return false;
  }
  if (typeof targets === 'string') return pythonRegex(targets, { fullMatch: true }).test(path);
  if (targets.includes(path)) return true;
  if (!targets.some((name) => path.endsWith(`.${name}`))) return false;
  const indexes = config.layersToTransform;
  if (indexes === null || (Array.isArray(indexes) && indexes.length === 0)) return true;
  const index = layerIndex(path, config.layersPattern);
  if (index === undefined) return false;
  return typeof indexes === 'number' ? index === indexes : (indexes as readonly number[]).includes(index);
}

/**
 * The value of `pattern` (PEFT `rank_pattern` / `alpha_pattern`) for the module at `path`: the
 * first key `k` such that the path matches `(.*\.)?(k)$` from its start, else `fallback`.
 */
export function patternValue(pattern: Readonly<Record<string, number>>, path: string, fallback: number): number {
  for (const [key, value] of Object.entries(pattern)) {
    if (pythonRegex(`(.*\\.)?(${key})$`).test(path)) return value;
  }
  return fallback;
}

/** Module names PEFT treats as embeddings (`EMBEDDING_LAYER_NAMES`): input table and output head. */
export const EMBEDDING_LAYER_NAMES: readonly string[] = Object.freeze(['embed_tokens', 'lm_head']);

/**
 * Whether `targetModules` names an embedding layer, as PEFT's tied-weights check reads the config
 * (`_check_tied_modules`): a list entry whose last segment is `embed_tokens` / `lm_head`, or a
 * regex that full-matches one of those bare names.
 */
export function targetsEmbeddingLayer(targetModules: LoraConfig['targetModules']): boolean {
  if (targetModules === null) return false;
  if (typeof targetModules === 'string') {
    const re = pythonRegex(targetModules, { fullMatch: true });
    return EMBEDDING_LAYER_NAMES.some((name) => re.test(name));
  }
  return targetModules.some((m) => EMBEDDING_LAYER_NAMES.includes(m.split('.').at(-1) as string));
}

/**
 * Whether PEFT's `save_pretrained` (`save_embedding_layers="auto"`) saves the base weights of the
 * adapted embedding layers with the adapter: a list `target_modules` holding `embed_tokens` or
 * `lm_head` exactly, or a regex (not `"all-linear"`) that full-matches the path of a module named so.
 */
export function savesEmbeddingBase(targetModules: LoraConfig['targetModules'], modulePaths: readonly string[]): boolean {
  if (targetModules === null) return false;
  if (typeof targetModules === 'string') {
    if (targetModules === ALL_LINEAR) return false;
    const re = pythonRegex(targetModules, { fullMatch: true });
    return modulePaths.some((p) => EMBEDDING_LAYER_NAMES.includes(p.split('.').at(-1) as string) && re.test(p));
  }
  return EMBEDDING_LAYER_NAMES.some((name) => targetModules.includes(name));
}

/** PEFT's warning when a tied model's embedding or head is adapted (`ensure_weight_tying` off). */
export const TIED_EMBEDDING_WARNING =
  'Model has `tie_word_embeddings=True` and a tied layer is part of the adapter, but `ensure_weight_tying` is not set to True. This can lead to complications, for example when merging the adapter or converting your model to formats other than safetensors. Check the discussion here: https://github.com/huggingface/peft/issues/2777';

/** PEFT's warning when it saves the base weights of adapted embedding layers. */
export const SAVE_EMBEDDING_WARNING = 'Setting `save_embedding_layers` to `True` as embedding layers found in `target_modules`.';
