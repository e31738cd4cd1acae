/** How JSON is pulled out of a model's text output. */
export type JsonExtraction = 'strict' | 'lenient';

/** Result of {@link extractJson}. */
export type ExtractedJson = { ok: true; value: unknown; text: string } | { ok: false };

/** Options of {@link extractJson}. */
export interface ExtractJsonOptions {
  /**
   * Lenient mode looks inside `<TAG>…</TAG>` first when set (e.g. `'ACTION'` for
   * `<ACTION>{…}</ACTION>`), and falls back to the whole text when the tag is absent.
   */
  tag?: string;
}

function tryParse(text: string): ExtractedJson {
  try {
    return { ok: true, value: JSON.parse(text) as unknown, text };
  } catch {
    return { ok: false };
  }
}

/**
 * Index one past the bracket that closes the `{` or `[` at `start`, skipping brackets inside JSON
 * strings; -1 when it never closes.
 */
function balancedEnd(text: string, start: number): number {
  const stack: string[] = [];
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') stack.push('}');
    else if (c === '[') stack.push(']');
    else if (c === '}' || c === ']') {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i + 1;
    }
  }
  return -1;
}

/** The first balanced `{…}` or `[…]` in `text` that parses as JSON. */
function firstBalancedJson(text: string): ExtractedJson {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '{' && c !== '[') continue;
    const end = balancedEnd(text, i);
    if (end < 0) continue;
    const parsed = tryParse(text.slice(i, end));
    if (parsed.ok) return parsed;
  }
  return { ok: false };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Extracts JSON from model output. `strict`: the whole output (trimmed) must be one JSON value.
 * `lenient`: the first balanced JSON object or array that parses, searched inside `<tag>…</tag>`
 * when `options.tag` is given and present, else in the whole text.
 *
 * @example
 * ```ts
 * extractJson('Sure: {"a": 1} done', 'lenient'); // { ok: true, value: { a: 1 }, text: '{"a": 1}' }
 * extractJson('Sure: {"a": 1}', 'strict');       // { ok: false }
 * ```
 */
export function extractJson(text: string, mode: JsonExtraction, options: ExtractJsonOptions = {}): ExtractedJson {
  if (mode === 'strict') return tryParse(text.trim());
  if (options.tag !== undefined) {
    const tag = escapeRegExp(options.tag);
    const inner = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(text)?.[1];
    if (inner !== undefined) {
      const whole = tryParse(inner.trim());
      if (whole.ok) return whole;
      const found = firstBalancedJson(inner);
      if (found.ok) return found;
    }
  }
  return firstBalancedJson(text);
}

/**
 * Canonical JSON text of a value: object keys sorted at every depth, no whitespace, numbers in
 * JavaScript's shortest round-trip form (`1.0` and `1e0` both become `1`). Two values with the
 * same canonical text are equal regardless of key order or formatting.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}

/** JSON-validity rates of a set of outputs, strict and lenient reported separately. */
export interface JsonValidReport {
  /** Fraction whose whole output is JSON. */
  strict: number;
  /** Fraction holding a balanced JSON object/array (inside the tag when given). */
  lenient: number;
  count: number;
}

/**
 * Fraction of outputs that are valid JSON, by strict and by lenient extraction (see
 * {@link extractJson}).
 */
export function jsonValidRate(outputs: readonly string[], options: ExtractJsonOptions = {}): JsonValidReport {
  const n = outputs.length;
  let strict = 0;
  let lenient = 0;
  for (const o of outputs) {
    if (extractJson(o, 'strict').ok) strict++;
    if (extractJson(o, 'lenient', options).ok) lenient++;
  }
  return { strict: n === 0 ? 0 : strict / n, lenient: n === 0 ? 0 : lenient / n, count: n };
}
