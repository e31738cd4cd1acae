import type { z } from 'zod';
import { FileFormatError } from './errors/file-format-error.js';

/** Where a value came from, for error messages: a file path, and optionally a line. */
export interface Source {
  /** File path or a descriptive name such as `"config.json of llama-3"`. */
  file: string;
  /** 1-based line number (JSONL, CSV). */
  line?: number;
}

/** Renders a zod issue path as `a.b[0].c`. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '<root>' : out;
}

/**
 * Validates `value` against a zod schema and returns the parsed output. On failure throws a
 * {@link FileFormatError} naming the source and the first offending field (all issues are listed
 * in the message).
 */
export function validate<S extends z.ZodType>(value: unknown, schema: S, source: Source): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const first = issues[0];
  const message = issues.map((i) => `\`${formatIssuePath(i.path)}\`: ${i.message}`).join('; ');
  throw new FileFormatError({
    file: source.file,
    ...(source.line === undefined ? {} : { line: source.line }),
    ...(first === undefined ? {} : { field: formatIssuePath(first.path) }),
    message,
    cause: result.error,
  });
}

/**
 * Parses JSON text and validates it with `schema`. Syntax errors and schema errors both become a
 * {@link FileFormatError} naming the source.
 *
 * @example
 * ```ts
 * const config = parseJson(text, HfConfigSchema, { file: 'config.json' });
 * ```
 */
export function parseJson<S extends z.ZodType>(text: string, schema: S, source: Source): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FileFormatError({
      file: source.file,
      ...(source.line === undefined ? {} : { line: source.line }),
      message: `invalid JSON: ${(error as Error).message}`,
      cause: error,
    });
  }
  return validate(value, schema, source);
}
