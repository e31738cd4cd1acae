/**
 * F1 recipe data: multiple-choice questions generated from F1DB facts (race winners, pole
 * positions, champions, circuits, nationalities) with same-category distractors, their SFT and
 * multiple-choice renderings, and stratified splits.
 *
 * @packageDocumentation
 */
export {
  loadF1Db,
  readYaml,
  DriverSchema,
  ConstructorSchema,
  CircuitSchema,
  CountrySchema,
  GrandPrixSchema,
  DriverStandingSchema,
  ConstructorStandingSchema,
  RaceSchema,
  RaceResultSchema,
  type F1Db,
  type LoadF1DbOptions,
  type Season,
  type Race,
  type RaceResult,
  type Driver,
  type Constructor,
  type Circuit,
  type Country,
  type GrandPrix,
  type DriverStanding,
  type ConstructorStanding,
} from './f1db.js';
export {
  generateF1Questions,
  seasonDriverIds,
  seasonConstructorIds,
  raceTitle,
  F1_CATEGORIES,
  F1_OPTION_COUNT,
  F1QuestionSchema,
  type F1Category,
  type F1Question,
  type GenerateF1Options,
} from './questions.js';
export { renderF1Prompt, renderF1Text, toF1PromptCompletion, toMultipleChoiceRecord } from './render.js';
export { splitF1Questions, writeF1Splits, f1JsonlRow, F1_SPLIT_FRACTIONS, type F1SplitName, type F1Splits } from './dataset.js';
export {
  runF1Pipeline,
  rebuildF1Report,
  readEpochResults,
  prepareF1Data,
  scoreF1,
  formatEpochResults,
  formatSummaryResults,
  EpochResultSchema,
  F1_PRESETS,
  type F1PresetName,
  type F1Preset,
  type F1ModelSpec,
  type F1PipelineOptions,
  type F1PipelineResult,
  type F1ReportFiles,
  type EpochResult,
} from './pipeline.js';
