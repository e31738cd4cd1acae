import { Ajv2020 } from 'ajv/dist/2020.js';
import type { z } from 'zod';
import { InvalidArgumentError } from '@lora/core';
import type { Normalizer } from './normalize.js';
import { extractJson, type JsonExtraction, type ExtractJsonOptions } from './json.js';

/** A JSON Schema (draft 2020-12) object or a zod schema. */
export type OutputSchema = Record<string, unknown> | boolean | z.ZodType;

function isZod(schema: OutputSchema): schema is z.ZodType {
  return typeof schema === 'object' && schema !== null && typeof (schema as { safeParse?: unknown }).safeParse === 'function';
}

/** Result of {@link schemaValidRate}. */
export interface SchemaValidReport {
  /** Fraction of outputs whose extracted JSON satisfies the schema (unparsable = invalid). */
  rate: number;
  valid: number;
  count: number;
  /** First validation error per invalid output index (JSON Schema path or zod issue path). */
  errors: Record<number, string>;
}

/** A compiled validator: true, or the first error text. */
export type SchemaCheck = (value: unknown) => true | string;

/**
 * Compiles a JSON Schema (ajv, draft 2020-12, all errors) or wraps a zod schema into one check.
 * Throws {@link InvalidArgumentError} when the JSON Schema itself is invalid.
 */
export function compileSchema(schema: OutputSchema): SchemaCheck {
  if (isZod(schema)) {
    return (value) => {
      const r = schema.safeParse(value);
      if (r.success) return true;
      const issue = r.error.issues[0];
      return issue === undefined ? 'invalid' : `${issue.path.map(String).join('.') || '<root>'}: ${issue.message}`;
    };
  }
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  let check;
  try {
    check = ajv.compile(schema as Record<string, unknown>);
  } catch (error) {
    throw new InvalidArgumentError({
      argument: 'schema',
      message: `not a valid JSON Schema (draft 2020-12): ${(error as Error).message}`,
      cause: error,
    });
  }
  return (value) => {
    if (check(value)) return true;
    const e = check.errors?.[0];
    return e === undefined ? 'invalid' : `${e.instancePath || '<root>'} ${e.message ?? 'invalid'}`;
  };
}

/**
 * Fraction of outputs whose JSON (extracted strictly or leniently) satisfies `schema`.
 *
 * @example
 * ```ts
 * schemaValidRate(['{"name":"x"}'], { type: 'object', required: ['name'] }).rate; // 1
 * ```
 */
export function schemaValidRate(
  outputs: readonly string[],
  schema: OutputSchema,
  options: ExtractJsonOptions & { extraction?: JsonExtraction; normalize?: Normalizer } = {},
): SchemaValidReport {
  const check = compileSchema(schema);
  const errors: Record<number, string> = {};
  let valid = 0;
  outputs.forEach((o, i) => {
    const got = extractJson(o, options.extraction ?? 'lenient', options);
    const r = got.ok ? check(options.normalize === undefined ? got.value : options.normalize(got.value)) : 'no JSON found';
    if (r === true) valid++;
    else errors[i] = r;
  });
  return { rate: outputs.length === 0 ? 0 : valid / outputs.length, valid, count: outputs.length, errors };
}
