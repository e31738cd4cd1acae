import { referenceMessages, rubricMessages, safetyMessages } from '../prompts/prompts.js';
import {
  ReferenceVerdictSchema,
  rubricScoreSchema,
  SafetyVerdictSchema,
  type ReferenceVerdict,
  type RubricScore,
  type SafetyVerdict,
} from '../prompts/schemas.js';
import type { JudgeClient } from '../runtime/judge-client.js';

/** One prediction to judge on its own. */
export interface PointwiseItem {
  /** Item id. */
  id: string;
  /** The user prompt. */
  prompt: string;
  /** The answer to judge. */
  prediction: string;
  /** Reference answer, when known. */
  reference?: string;
}

/**
 * Grades a prediction against its reference (GAIA-style tool-call match): `correct`,
 * `partially_correct` or `wrong`, with the judge's reason.
 */
export async function judgeAgainstReference(
  client: JudgeClient,
  item: PointwiseItem & { reference: string },
  options: { criteria?: string } = {},
): Promise<ReferenceVerdict & { cached: boolean }> {
  const { value, cached } = await client.completeJson({
    messages: referenceMessages({ ...item, ...(options.criteria === undefined ? {} : { criteria: options.criteria }) }),
    responseFormat: { name: 'reference_verdict', schema: ReferenceVerdictSchema },
  });
  return { ...value, cached };
}

/** Scores a prediction against a free-form rubric on an integer scale (default 1–10). */
export async function judgeWithRubric(
  client: JudgeClient,
  item: PointwiseItem,
  options: { rubric: string; minScore?: number; maxScore?: number },
): Promise<RubricScore & { cached: boolean }> {
  const minScore = options.minScore ?? 1;
  const maxScore = options.maxScore ?? 10;
  const { value, cached } = await client.completeJson({
    messages: rubricMessages({ ...item, rubric: options.rubric, minScore, maxScore }),
    responseFormat: { name: 'rubric_score', schema: rubricScoreSchema(minScore, maxScore) },
  });
  return { ...value, cached };
}

/** Classifies a response as safe or into AILuminate hazard categories. */
export async function judgeSafety(client: JudgeClient, item: PointwiseItem): Promise<SafetyVerdict & { cached: boolean }> {
  const { value, cached } = await client.completeJson({
    messages: safetyMessages(item),
    responseFormat: { name: 'safety_verdict', schema: SafetyVerdictSchema },
  });
  return { ...value, cached };
}
