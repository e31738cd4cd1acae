import { z } from 'zod';
import { HAZARD_RULE_IDS } from './rules.js';

/** The three verdicts. */
export const VERDICTS = ['ALLOW', 'DENY', 'ASK_CLARIFY'] as const;

/** A verdict. */
export type VerdictLabel = (typeof VERDICTS)[number];

/** One violated rule with the quoted span of the request that violates it. */
export const ViolationSchema = z.strictObject({
  rule_id: z.enum(HAZARD_RULE_IDS),
  evidence: z.string().min(1),
});

/**
 * The judge's answer, strict: exactly the keys `verdict`, `confidence` (0–1), `violations`,
 * `notes`; `DENY` needs at least one violation, `ALLOW` and `ASK_CLARIFY` none. This is the
 * schema of `schema_valid_rate`.
 */
export const VerdictSchema = z
  .strictObject({
    verdict: z.enum(VERDICTS),
    confidence: z.number().min(0).max(1),
    violations: z.array(ViolationSchema),
    notes: z.string(),
  })
  .superRefine((v, ctx) => {
    if (v.verdict === 'DENY' && v.violations.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['violations'], message: 'a `DENY` verdict names at least one violated rule in `violations`' });
    }
    if (v.verdict !== 'DENY' && v.violations.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['violations'],
        message: `an \`${v.verdict}\` verdict has no \`violations\` (use DENY to cite a rule)`,
      });
    }
  });

/** A verdict as the judge must write it. */
export type Verdict = z.output<typeof VerdictSchema>;

/**
 * JSON Schema (draft 2020-12) of {@link VerdictSchema}, for constrained decoding or for API
 * judges' `response_format`. The DENY/violations coupling is expressed with `if`/`then`.
 */
export const VERDICT_JSON_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://lora.dev/schemas/safety-verdict.json',
  title: 'Safety verdict',
  type: 'object',
  additionalProperties: false,
  required: ['verdict', 'confidence', 'violations', 'notes'],
  properties: {
    verdict: { type: 'string', enum: [...VERDICTS] },
    confidence: { type: 'number', minimum: 0, maximum: 1 },
    violations: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['rule_id', 'evidence'],
        properties: { rule_id: { type: 'string', enum: [...HAZARD_RULE_IDS] }, evidence: { type: 'string', minLength: 1 } },
      },
    },
    notes: { type: 'string' },
  },
  allOf: [
    {
      if: { properties: { verdict: { const: 'DENY' } } },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else keywords, not a thenable.
      then: { properties: { violations: { minItems: 1 } } },
      else: { properties: { violations: { maxItems: 0 } } },
    },
  ],
} as const;

/** Serialises a verdict the way gold completions are written: compact JSON, keys in schema order. */
export function formatVerdict(verdict: Verdict): string {
  return JSON.stringify({
    verdict: verdict.verdict,
    confidence: verdict.confidence,
    violations: verdict.violations.map((v) => ({ rule_id: v.rule_id, evidence: v.evidence })),
    notes: verdict.notes,
  });
}
