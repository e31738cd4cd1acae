/**
 * CarBot recipe, data side: the in-car action catalog (zod + JSON Schema), a seeded generator of
 * varied user commands with `<ACTION>{json}</ACTION>\n<SAY>…</SAY>` answers, the 80/10/10 split
 * stratified by intent, alias normalisation and answer parsing; and the recipe pipeline (data →
 * LoRA training → base-vs-adapter report → optional pairwise judge).
 *
 * @packageDocumentation
 */
export {
  ACTION_SCHEMAS,
  CarbotActionSchema,
  NoneActionSchema,
  CARBOT_INTENTS,
  CARBOT_LABELS,
  NONE_ACTION,
  WINDOW_TARGETS,
  WINDOW_SWITCH_TARGETS,
  MEDIA_COMMANDS,
  SEATS,
  SEAT_FEATURES,
  LIGHT_MODES,
  ACC_COMMANDS,
  CARBOT_JSON_SCHEMA_ID,
  carbotJsonSchema,
  formatAction,
  isCarbotIntent,
  type CarbotAction,
  type CarbotActionOf,
  type CarbotIntent,
  type CarbotLabel,
} from './catalog.js';
export { TEMPLATES, SLOT_PHRASES, type CommandTemplate } from './templates.js';
export {
  generateCarbotExamples,
  formatCarbotAnswer,
  carbotSay,
  CARBOT_SYSTEM_PROMPT,
  type CarbotExample,
  type GenerateOptions,
} from './generate.js';
export { splitCarbotExamples, CARBOT_SPLIT_FRACTIONS, type CarbotSplits, type CarbotSplitName } from './split.js';
export {
  normalizeAction,
  normalizeName,
  parseCarbotAnswer,
  firstJsonObject,
  NAME_ALIASES,
  KEY_ALIASES,
  VALUE_ALIASES,
  type ParseAnswerOptions,
  type ParsedCarbotAnswer,
} from './aliases.js';
export { addTypos, editDistance, numberToWord, wordToNumber, NUMBER_WORDS, KEYBOARD_NEIGHBOURS, type Typo } from './text-noise.js';
export { writeCarbotDataset, carbotDatasetFiles, hasCarbotDataset, type CarbotDatasetOptions, type CarbotDatasetFiles } from './dataset.js';
export { scoreCarbotPredictions, carbotNormalizer, type CarbotParserMetrics, type GoldAction } from './scoring.js';
export { postprocess } from './chat-postprocess.js';
export {
  runPipeline,
  carbotMetrics,
  formatSummary,
  CARBOT_PRESETS,
  CARBOT_RECIPES_DIR,
  type CarbotPreset,
  type CarbotPresetName,
  type JudgeSettings,
  type RunPipelineOptions,
  type PipelineResult,
} from './pipeline.js';
