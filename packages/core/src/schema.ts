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

/** Lower-case letters and digits only: `learning_rate`, `learningRate` and `Learning-Rate` compare equal. */
const squash = (key: string): string => key.toLowerCase().replace(/[^a-z0-9]/g, '');

/** The keys an object schema at `path` inside `schema` accepts (through defaults, optionals, pipes, unions); undefined if none is found. */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  type Def = {
    type: string;
    shape?: Record<string, z.ZodType>;
    innerType?: z.ZodType;
    in?: z.ZodType;
    options?: z.ZodType[];
    valueType?: z.ZodType;
    element?: z.ZodType;
  };
  const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;
  const walk = (s: z.ZodType, rest: readonly PropertyKey[]): string[] | undefined => {
    const def = defOf(s);
    if (def.innerType !== undefined) return walk(def.innerType, rest);
    if (def.type === 'pipe' && def.in !== undefined) return walk(def.in, rest);
    if (def.type === 'union' && def.options !== undefined) {
      const keys = def.options.flatMap((o) => walk(o, rest) ?? []);
      return keys.length === 0 ? undefined : [...new Set(keys)];
    }
    if (rest.length === 0) return def.type === 'object' && def.shape !== undefined ? Object.keys(def.shape) : undefined;
    const [head, ...tail] = rest;
    if (def.type === 'object' && def.shape !== undefined) {
      const child = def.shape[String(head)];
      return child === undefined ? undefined : walk(child, tail);
    }
    if (def.type === 'record' && def.valueType !== undefined) return walk(def.valueType, tail);
    if (def.type === 'array' && def.element !== undefined) return walk(def.element, tail);
    return undefined;
  };
  try {
    return walk(schema, path);
  } catch {
    return undefined;
  }
}

/**
 * The message of one issue; an unknown key gets the known key it most likely means (same letters
 * in another spelling, such as `learning_rate` for `learningRate`, or one or two typos off).
 */
function issueMessage(issue: z.core.$ZodIssue, schema: z.ZodType): string {
  if (issue.code !== 'unrecognized_keys') return issue.message;
  const known = knownKeysAt(schema, issue.path) ?? [];
  return issue.keys
    .map((key) => {
      const match = known.find((k) => squash(k) === squash(key)) ?? known.find((k) => editDistance(squash(k), squash(key)) <= 2);
      return `unknown key ${key}${match === undefined ? '' : ` — did you mean ${match}?`}`;
    })
    .join('; ');
}

/** Levenshtein distance (short keys only: the cost is length × length). */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(
        Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1)),
      );
    }
    previous = row;
  }
  return previous[b.length] as number;
}

/**
 * Validates `value` against a zod schema and returns the parsed output. On failure throws a
 * {@link FileFormatError} naming the source and the first offending field (all issues are listed
 * in the message). An unknown key of a strict object says which key it likely means:
 * `unknown key learning_rate — did you mean learningRate?`.
 */
export function validate<S extends z.ZodType>(value: unknown, schema: S, source: Source): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const first = issues[0];
  const message = issues.map((i) => `\`${formatIssuePath(i.path)}\`: ${issueMessage(i, schema)}`).join('; ');
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
