/** The whole-job entry points behind `lora judge pairwise|score`. */
export { runPairwise, type RunPairwiseOptions, type PairwiseSummary, type PairwiseVerdictRow } from './run-pairwise.js';
export { runScore, type RunScoreOptions, type ScoreSummary } from './run-score.js';
export type { RunJudgeOptions, CommonSummary } from './common.js';
