/**
 * GAIA recipe, data side: tool-use traces in the Hugging Face messages format (converted from
 * BFCL v4, or users' own GAIA-style JSONL), tool-call parsing from completions (`<tool_call>`
 * tags, Llama `<|python_tag|>`, plain JSON) and BFCL-style scoring against gold calls with several
 * acceptable values per argument.
 *
 * @packageDocumentation
 */
export {
  GaiaTraceSchema,
  GaiaToolSchema,
  GoldCallSchema,
  toGaiaTrace,
  readGaiaTraces,
  goldFromMessages,
  argumentsObject,
  type GaiaTrace,
  type GaiaTraceInput,
  type GaiaTool,
  type GoldCall,
} from './trace.js';
export {
  loadBfcl,
  bfclFunctionToTool,
  bfclTypeToJsonSchema,
  canonicalArguments,
  BFCL_CATEGORIES,
  BfclQuestionSchema,
  BfclAnswerSchema,
  BfclFunctionSchema,
  GAIA_SYSTEM_PROMPT,
  NO_CALL_ANSWER,
  type BfclCategory,
  type LoadBfclOptions,
  type BfclLoadResult,
} from './bfcl.js';
export {
  parseToolCalls,
  formatToolCallsText,
  callsFromMessage,
  type ToolCallValue,
  type ToolCallFormat,
  type ParsedToolCalls,
} from './tool-calls.js';
export {
  checkCall,
  scoreCalls,
  scoreCompletion,
  summarizeScores,
  standardizeString,
  type CallCheck,
  type ExampleScore,
  type GoldCallResult,
  type ScoreSummary,
} from './score.js';
export {
  writeGaiaDataset,
  gaiaDatasetFiles,
  hasGaiaDataset,
  compactTrace,
  textToolCalls,
  toolSignatures,
  referenceText,
  type GaiaDataOptions,
  type GaiaDataset,
} from './dataset.js';
export { headToHead, headToHeadMarkdown, type HeadToHead, type HeadToHeadCounts } from './head-to-head.js';
export {
  runPipeline,
  formatSummary,
  GAIA_PRESETS,
  GAIA_RECIPES_DIR,
  type GaiaPreset,
  type GaiaPresetName,
  type JudgeSettings,
  type RunPipelineOptions,
  type PipelineResult,
} from './pipeline.js';
