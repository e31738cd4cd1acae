// Module and tensor names of multimodal checkpoints. transformers 5 names the text decoder of a
// Gemma3ForConditionalGeneration `model.language_model.*` in memory (PEFT's adapter keys follow
// that), but `save_pretrained` writes the v4 layout `language_model.model.*`, `vision_tower.*`,
// `multi_modal_projector.*` (see fixtures/tiny-gemma3-mm/keys.json). Linear slots carry the
// in-memory names; the loaders read the canonical text names `model.*` (gemma3TextKey).
import type { ModelConfig } from '../config/model-config.js';

/** Prefix of the decoder's modules (`model.layers.N…`): `model.language_model.` for a multimodal checkpoint. */
export function decoderModulePrefix(config: ModelConfig): string {
  return config.multimodal ? 'model.language_model.' : 'model.';
}

/** On-disk (transformers v4 layout) prefixes of Gemma3ForConditionalGeneration and their in-memory names. */
const V4_TO_V5: readonly (readonly [string, string])[] = [
  ['language_model.model.', 'model.language_model.'],
  ['language_model.lm_head.', 'lm_head.'],
  ['vision_tower.', 'model.vision_tower.'],
  ['multi_modal_projector.', 'model.multi_modal_projector.'],
];

/**
 * The name transformers 5 gives in memory to a module or tensor that a checkpoint of `config`'s
 * class stores as `name`: for Gemma3ForConditionalGeneration the v4 layout written to disk
 * (`language_model.model.layers.0.mlp.up_proj.weight`) becomes
 * `model.language_model.layers.0.mlp.up_proj.weight`; in-memory names and every other class's
 * names are returned unchanged. Linear slot paths (`linearModules()`) and PEFT adapter keys use
 * these names.
 *
 * @example
 * ```ts
 * transformersName(config, 'vision_tower.encoder.layers.0.mlp.fc1'); // 'model.vision_tower.encoder.layers.0.mlp.fc1'
 * ```
 */
export function transformersName(config: ModelConfig, name: string): string {
  if (!config.multimodal) return name;
  for (const [from, to] of V4_TO_V5) if (name.startsWith(from)) return to + name.slice(from.length);
  return name;
}

/**
 * True when `name` (on-disk or in-memory) is a module or tensor of a part of the checkpoint that
 * \@lora does not run: the vision tower and multimodal projector of Gemma3ForConditionalGeneration.
 */
export function isNonTextModule(config: ModelConfig, name: string): boolean {
  return config.multimodal && /^(model\.)?(vision_tower|multi_modal_projector)(\.|$)/.test(name);
}
