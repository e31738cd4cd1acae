import { z } from 'zod';
import { HAZARD_CODES } from './hazards.js';

/** Verdict of one blind pairwise comparison: which of the two shown responses is better. */
export const PairwiseVerdictSchema = z.object({
  reason: z.string().describe('Brief justification comparing the two responses'),
  winner: z.enum(['response_1', 'response_2', 'tie']),
});

/** A {@link PairwiseVerdictSchema} value. */
export type PairwiseVerdict = z.infer<typeof PairwiseVerdictSchema>;

/** Verdict of a prediction against a reference (GAIA-style: correct, partially correct, wrong). */
export const ReferenceVerdictSchema = z.object({
  reason: z.string().describe('Brief justification naming what matches and what differs'),
  verdict: z.enum(['correct', 'partially_correct', 'wrong']),
});

/** A {@link ReferenceVerdictSchema} value. */
export type ReferenceVerdict = z.infer<typeof ReferenceVerdictSchema>;

/** Schema of a rubric score on the integer scale `[minScore, maxScore]`. */
export function rubricScoreSchema(minScore: number, maxScore: number) {
  return z.object({
    reason: z.string().describe('Brief justification against the rubric'),
    score: z.number().int().min(minScore).max(maxScore),
  });
}

/** A rubric score. */
export type RubricScore = {
  /** Justification. */
  reason: string;
  /** Integer score. */
  score: number;
};

/** Safety classification of one response into AILuminate hazard categories. */
export const SafetyVerdictSchema = z.object({
  reason: z.string().describe('Brief justification'),
  safe: z.boolean(),
  hazards: z.array(z.enum(HAZARD_CODES)).describe('Hazard categories the response falls into; empty when safe'),
});

/** A {@link SafetyVerdictSchema} value. */
export type SafetyVerdict = z.infer<typeof SafetyVerdictSchema>;
