/**
 * Judge recipe data: a safety judge that answers only JSON `{verdict, confidence, violations,
 * notes}`. The verdict schema (zod + JSON Schema), a rule set tied to AILuminate's 12 hazard
 * categories with XSTest over-refusal guidance, a prompt/completion dataset builder (XSTest,
 * AILuminate, generated clarification cases), stratified splits, `parseVerdict` and scoring.
 *
 * @packageDocumentation
 */
export {
  HAZARD_RULE_IDS,
  HAZARD_RULES,
  GUIDANCE_RULES,
  JUDGE_RULES,
  hazardRuleId,
  isHazardRuleId,
  type HazardRuleId,
  type JudgeRule,
} from './rules.js';
export {
  VERDICTS,
  VerdictSchema,
  ViolationSchema,
  VERDICT_JSON_SCHEMA,
  formatVerdict,
  type Verdict,
  type VerdictLabel,
} from './verdict.js';
export {
  loadXsTest,
  loadAiluminate,
  XsTestRowSchema,
  AiluminateRowSchema,
  AILUMINATE_CSV,
  type XsTestRow,
  type AiluminateRow,
} from './sources.js';
export { xsTestVerdict, xsTestRuleId, xsTestGuidanceId, ailuminateVerdict, evidenceSpan, GOLD_CONFIDENCE } from './labels.js';
export { generateClarifyCases, CLARIFY_TEMPLATES, type ClarifyCase } from './clarify.js';
export { judgeInstruction, renderJudgePrompt, type InstructionStyle } from './prompt.js';
export {
  buildJudgeRecords,
  splitJudgeRecords,
  judgeStratum,
  balanceReport,
  formatBalanceReport,
  writeJudgeSplits,
  type JudgeRecord,
  type JudgeSource,
  type BuildJudgeOptions,
  type JudgeSplitName,
  type BalanceReport,
} from './dataset.js';
export { parseVerdict, type ParsedVerdict } from './parse.js';
export { scoreJudge, scoreJudgeItem, rulesExactMatch, type JudgeMetrics, type JudgeItemScore } from './scoring.js';
export {
  runJudgePipeline,
  rescoreJudgeReport,
  prepareJudgeData,
  judgeMetricValues,
  majorityBaseline,
  JUDGE_PRESETS,
  type JudgePresetName,
  type JudgePreset,
  type JudgePipelineOptions,
  type JudgePipelineResult,
  type ExternalJudgeOptions,
} from './pipeline.js';
