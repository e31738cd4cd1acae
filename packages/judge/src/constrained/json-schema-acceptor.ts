import { InvalidArgumentError } from '@lora/core';
import { z } from 'zod';

/** Schema nodes the acceptor supports (compiled from JSON Schema). */
type SchemaNode =
  | { kind: 'object'; properties: ReadonlyArray<{ name: string; node: SchemaNode }> }
  | { kind: 'string' }
  | { kind: 'choice'; options: readonly string[] }
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'array'; items: SchemaNode; maxItems: number };

/** One frame of the pushdown automaton's stack. */
type Frame =
  | {
      t: 'object';
      node: Extract<SchemaNode, { kind: 'object' }>;
      phase: 'open' | 'key' | 'colon' | 'value' | 'next';
      index: number;
      spaced: boolean;
    }
  | { t: 'literal'; text: string; pos: number }
  | { t: 'string'; opened: boolean; len: number; escaped: boolean }
  | { t: 'choice'; options: readonly string[]; prefix: string }
  | { t: 'integer'; text: string; min: number; max: number }
  | { t: 'array'; node: Extract<SchemaNode, { kind: 'array' }>; phase: 'open' | 'first' | 'next' | 'item'; count: number; spaced: boolean };

/** A persistent stack: frames are never mutated, so a state can be fed many continuations. */
interface Stack {
  readonly frame: Frame;
  readonly below: Stack | null;
}

/**
 * A state of a {@link JsonSchemaAcceptor}: the text accepted so far, as the automaton sees it.
 * Opaque and immutable; `null` is the state after the complete value.
 */
export type AcceptorState = { readonly stack: Stack | null };

/** Options of {@link createJsonSchemaAcceptor}. */
export interface JsonSchemaAcceptorOptions {
  /** Longest string value, in UTF-16 code units (an escape counts once); then only `"` is accepted. Default 400. */
  maxStringLength?: number;
}

/**
 * A character-level incremental acceptor of the JSON texts that match a schema (a small pushdown
 * automaton), for constrained decoding: from a state, {@link JsonSchemaAcceptor.feed} says whether
 * a character may come next. The accepted language is compact JSON with at most one optional space
 * between tokens, e.g. `{"reason": "short", "winner": "tie"}`: object properties in schema order,
 * all present, no others; strings of printable characters with the escapes `\"`, `\\` and `\n`,
 * at most `maxStringLength` long; integers without leading zeros inside `[minimum, maximum]`.
 */
export interface JsonSchemaAcceptor {
  /** The state before any character. */
  readonly initial: AcceptorState;
  /** The state after `char` (one UTF-16 code unit), or `undefined` when the schema rejects it here. */
  feed(state: AcceptorState, char: string): AcceptorState | undefined;
  /** The state after each character of `text`, or `undefined` at the first rejected one. */
  feedText(state: AcceptorState, text: string): AcceptorState | undefined;
  /** Whether the text so far is a complete value (nothing more may follow). */
  isComplete(state: AcceptorState): boolean;
  /**
   * The fewest characters that complete the value from `state` (0 when complete). With one token
   * per character at worst, a reply that has `n` tokens left can still end as valid JSON as long
   * as this is at most `n`: constrained decoding uses it to finish within a token budget.
   */
  minRemaining(state: AcceptorState): number;
  /** An upper bound of {@link JsonSchemaAcceptor.minRemaining} over every state. */
  readonly maxMinRemaining: number;
  /**
   * A key such that two states with equal keys accept exactly the same texts of at most
   * `lookahead` characters (string lengths far from the cap are not told apart), for caching.
   */
  key(state: AcceptorState, lookahead: number): string;
}

/**
 * An acceptor for the JSON texts matching a zod schema (converted with `z.toJSONSchema`). Supported
 * subset, enough for the judge's verdicts: an object root whose properties are all required (no
 * additional ones), each a string, an enum of strings, an integer (with `minimum` / `maximum`), a
 * boolean, an array of such values, or a nested object of the same kind.
 *
 * @throws InvalidArgumentError naming the JSON Schema path of the first unsupported construct.
 * @example
 * ```ts
 * const acceptor = createJsonSchemaAcceptor(PairwiseVerdictSchema);
 * const state = acceptor.feedText(acceptor.initial, '{"reason": "ok", "winner": "tie"}');
 * acceptor.isComplete(state!); // true
 * ```
 */
export function createJsonSchemaAcceptor(schema: z.ZodType, options: JsonSchemaAcceptorOptions = {}): JsonSchemaAcceptor {
  const maxString = options.maxStringLength ?? 400;
  if (!Number.isInteger(maxString) || maxString < 1) {
    throw new InvalidArgumentError({ argument: 'maxStringLength', message: `must be a positive integer, got ${maxString}.` });
  }
  const root = compile(z.toJSONSchema(schema) as Record<string, unknown>, '#');
  if (root.kind !== 'object') {
    throw new InvalidArgumentError({
      argument: 'schema',
      message: `constrained decoding needs an object at the root (#), got ${root.kind}.`,
    });
  }
  const initial: AcceptorState = { stack: { frame: startFrame(root), below: null } };

  const feed = (state: AcceptorState, char: string): AcceptorState | undefined => {
    const stack = step(state.stack, char, maxString);
    return stack === undefined ? undefined : { stack };
  };
  return {
    initial,
    feed,
    feedText(state, text) {
      let stack: Stack | null | undefined = state.stack;
      for (let i = 0; i < text.length && stack !== undefined; i++) stack = step(stack, text[i] as string, maxString);
      return stack === undefined ? undefined : { stack };
    },
    isComplete: (state) => state.stack === null,
    minRemaining(state) {
      let total = 0;
      for (let s = state.stack; s !== null; s = s.below) total += frameRemaining(s.frame);
      return total;
    },
    maxMinRemaining: maxRemaining(root),
    key(state, lookahead) {
      const parts: string[] = [];
      for (let s = state.stack; s !== null; s = s.below) parts.push(frameKey(s.frame, maxString - lookahead));
      return parts.join('|');
    },
  };
}

function frameKey(f: Frame, farBelow: number): string {
  switch (f.t) {
    case 'object':
      return `o${f.phase}${f.index}${f.spaced ? 's' : ''}`;
    case 'literal':
      return `l${f.pos}${f.text}`;
    case 'string':
      return `s${f.opened ? 1 : 0}${f.escaped ? 1 : 0}:${f.len < farBelow ? 'far' : f.len}`;
    case 'choice':
      return `c${f.prefix}\u0000${f.options.join('\u0000')}`;
    case 'integer':
      return `i${f.text}:${f.min}:${f.max}`;
    case 'array':
      return `a${f.phase}${f.count}${f.spaced ? 's' : ''}`;
  }
}

function unsupported(path: string, what: string): never {
  throw new InvalidArgumentError({ argument: 'schema', message: `constrained decoding does not support ${what} at ${path}.` });
}

function compile(json: Record<string, unknown>, path: string): SchemaNode {
  if (Array.isArray(json['enum'])) {
    const values = json['enum'] as unknown[];
    if (values.length === 0 || !values.every((v) => typeof v === 'string')) unsupported(path, 'an enum of non-strings (or an empty one)');
    return { kind: 'choice', options: (values as string[]).map((v) => JSON.stringify(v)) };
  }
  if (json['const'] !== undefined) {
    if (typeof json['const'] !== 'string') unsupported(path, 'a non-string const');
    return { kind: 'choice', options: [JSON.stringify(json['const'])] };
  }
  switch (json['type']) {
    case 'object': {
      const props = (json['properties'] ?? {}) as Record<string, Record<string, unknown>>;
      const names = Object.keys(props);
      const required = (json['required'] ?? []) as unknown[];
      const optional = names.filter((n) => !required.includes(n));
      if (optional.length > 0) unsupported(`${path}/properties/${optional[0]}`, 'an optional property');
      if (json['additionalProperties'] !== false) unsupported(path, 'an object without additionalProperties: false');
      return {
        kind: 'object',
        properties: names.map((name) => ({ name, node: compile(props[name] as Record<string, unknown>, `${path}/properties/${name}`) })),
      };
    }
    case 'string':
      if (json['pattern'] !== undefined || json['format'] !== undefined) unsupported(path, 'a string pattern or format');
      return { kind: 'string' };
    case 'boolean':
      return { kind: 'choice', options: ['true', 'false'] };
    case 'integer': {
      const min = typeof json['minimum'] === 'number' ? Math.ceil(json['minimum']) : Number.MIN_SAFE_INTEGER;
      const max = typeof json['maximum'] === 'number' ? Math.floor(json['maximum']) : Number.MAX_SAFE_INTEGER;
      if (min > max) unsupported(path, `an empty integer range [${min}, ${max}]`);
      return { kind: 'integer', min, max };
    }
    case 'array': {
      const items = json['items'];
      if (typeof items !== 'object' || items === null || Array.isArray(items)) unsupported(path, 'an array without a single items schema');
      const node = compile(items as Record<string, unknown>, `${path}/items`);
      const declared = typeof json['maxItems'] === 'number' ? json['maxItems'] : Number.POSITIVE_INFINITY;
      // An array of an enum never needs more items than there are values (keeps a weak model from looping).
      const maxItems = Math.min(declared, node.kind === 'choice' ? node.options.length : 64);
      if (typeof json['minItems'] === 'number' && json['minItems'] > 0) unsupported(path, 'minItems');
      return { kind: 'array', items: node, maxItems };
    }
    default:
      return unsupported(path, `type ${JSON.stringify(json['type'] ?? null)}`);
  }
}

function startFrame(node: SchemaNode): Frame {
  switch (node.kind) {
    case 'object':
      return { t: 'object', node, phase: 'open', index: 0, spaced: false };
    case 'string':
      return { t: 'string', opened: false, len: 0, escaped: false };
    case 'choice':
      return { t: 'choice', options: node.options, prefix: '' };
    case 'integer':
      return { t: 'integer', text: '', min: node.min, max: node.max };
    case 'array':
      return { t: 'array', node, phase: 'open', count: 0, spaced: false };
  }
}

/** Whether `text` (an integer prefix: `-`, digits) followed by exactly `k` more digits can be an integer in `[min, max]`. */
function integerWithDigits(text: string, k: number, min: number, max: number): boolean {
  const negative = text.startsWith('-');
  const digits = negative ? text.slice(1) : text;
  const n = digits.length + k;
  if (n === 0 || n > 16) return false;
  if (digits.length > 1 && digits[0] === '0') return false;
  let lo: number;
  let hi: number;
  if (digits === '') {
    lo = n === 1 ? (negative ? 1 : 0) : 10 ** (n - 1);
    hi = 10 ** n - 1;
  } else {
    if (digits === '0' && (k > 0 || negative)) return false;
    const d = Number(digits);
    lo = d * 10 ** k;
    hi = lo + 10 ** k - 1;
  }
  if (negative) [lo, hi] = [-hi, -lo];
  return hi >= min && lo <= max;
}

/** Fewest digits that make `text` an integer in `[min, max]` (0: it is one), or -1 when none can. */
function integerMinDigits(text: string, min: number, max: number): number {
  for (let k = 0; k <= 16; k++) if (integerWithDigits(text, k, min, max)) return k;
  return -1;
}

function integerViable(text: string, min: number, max: number): boolean {
  return integerMinDigits(text, min, max) >= 0;
}

function integerComplete(text: string, min: number, max: number): boolean {
  return integerWithDigits(text, 0, min, max);
}

const minLengths = new WeakMap<SchemaNode, number>();

/** Length of the shortest JSON text of `node`. */
function minLength(node: SchemaNode): number {
  const known = minLengths.get(node);
  if (known !== undefined) return known;
  let length: number;
  switch (node.kind) {
    case 'object':
      length = node.properties.length === 0 ? 2 : 1 + propertiesFrom(node, 0);
      break;
    case 'string':
      length = 2;
      break;
    case 'choice':
      length = Math.min(...node.options.map((o) => o.length));
      break;
    case 'integer':
      length = integerMinDigits('', node.min, node.max);
      if (length < 0) length = integerMinDigits('-', node.min, node.max) + 1;
      break;
    case 'array':
      length = 2;
      break;
  }
  minLengths.set(node, length);
  return length;
}

/** Shortest text of the properties `from`.. of an object (`"key":value` joined by commas) and its `}`. */
function propertiesFrom(node: Extract<SchemaNode, { kind: 'object' }>, from: number): number {
  let length = 1;
  node.properties.forEach((p, i) => {
    if (i >= from) length += JSON.stringify(p.name).length + 1 + minLength(p.node) + (i > from ? 1 : 0);
  });
  return length;
}

/** Fewest characters that finish `f` (its own part of the text only). */
function frameRemaining(f: Frame): number {
  switch (f.t) {
    case 'literal':
      return f.text.length - f.pos;
    case 'string':
      return !f.opened || f.escaped ? 2 : 1;
    case 'choice':
      return Math.min(...f.options.map((o) => o.length)) - f.prefix.length;
    case 'integer':
      return Math.max(0, integerMinDigits(f.text, f.min, f.max));
    case 'object': {
      const props = f.node.properties;
      if (f.phase === 'open') return minLength(f.node);
      if (props.length === 0) return 1;
      const value = minLength((props[f.index] as { node: SchemaNode }).node);
      if (f.phase === 'key') return propertiesFrom(f.node, f.index);
      const rest = propertiesFrom(f.node, f.index + 1) + (f.index + 1 < props.length ? 1 : 0);
      if (f.phase === 'colon') return 1 + value + rest;
      if (f.phase === 'value') return value + rest;
      return rest;
    }
    case 'array':
      if (f.phase === 'open') return 2;
      if (f.phase === 'item') return minLength(f.node.items) + 1;
      return 1;
  }
}

/** An upper bound of the characters that finish any state inside `node` (a value of it just started, at worst). */
function maxRemaining(node: SchemaNode): number {
  switch (node.kind) {
    case 'object':
      return minLength(node) + Math.max(0, ...node.properties.map((p) => maxRemaining(p.node)));
    case 'string':
      return 2;
    case 'choice':
      return Math.max(...node.options.map((o) => o.length));
    case 'integer':
      return 18;
    case 'array':
      return 3 + minLength(node.items) + maxRemaining(node.items);
  }
}

const push = (below: Stack | null, frame: Frame): Stack => ({ frame, below });

/** The stack after `c`, `undefined` when rejected. `null` (complete) rejects everything. */
function step(stack: Stack | null, c: string, maxString: number): Stack | null | undefined {
  if (stack === null) return undefined;
  const f = stack.frame;
  const below = stack.below;
  switch (f.t) {
    case 'literal': {
      if (f.text[f.pos] !== c) return undefined;
      return f.pos + 1 === f.text.length ? below : push(below, { ...f, pos: f.pos + 1 });
    }
    case 'string': {
      if (!f.opened) return c === '"' ? push(below, { ...f, opened: true }) : undefined;
      if (f.escaped) return c === '"' || c === '\\' || c === 'n' ? push(below, { ...f, escaped: false, len: f.len + 1 }) : undefined;
      if (c === '"') return below;
      if (f.len >= maxString) return undefined;
      if (c === '\\') return push(below, { ...f, escaped: true });
      const code = c.charCodeAt(0);
      if (code < 0x20 || code === 0x7f) return undefined;
      return push(below, { ...f, len: f.len + 1 });
    }
    case 'choice': {
      const prefix = f.prefix + c;
      const options = f.options.filter((o) => o.startsWith(prefix));
      if (options.length === 0) return undefined;
      if (options.length === 1 && options[0] === prefix) return below;
      return push(below, { ...f, options, prefix });
    }
    case 'integer': {
      const text = f.text + c;
      if ((c >= '0' && c <= '9') || (c === '-' && f.text === '')) {
        return integerViable(text, f.min, f.max) ? push(below, { ...f, text }) : undefined;
      }
      // Any other character ends the number (when it is complete) and goes to the enclosing frame.
      return integerComplete(f.text, f.min, f.max) ? step(below, c, maxString) : undefined;
    }
    case 'object': {
      const props = f.node.properties;
      if (f.phase === 'open') return c === '{' ? push(below, { ...f, phase: 'key', spaced: false }) : undefined;
      if (c === ' ') return f.spaced ? undefined : push(below, { ...f, spaced: true });
      switch (f.phase) {
        case 'key': {
          if (props.length === 0) return c === '}' ? below : undefined;
          const name = JSON.stringify((props[f.index] as { name: string }).name);
          if (c !== name[0]) return undefined;
          return push(push(below, { ...f, phase: 'colon', spaced: false }), { t: 'literal', text: name, pos: 1 });
        }
        case 'colon':
          return c === ':' ? push(below, { ...f, phase: 'value', spaced: false }) : undefined;
        case 'value': {
          const node = (props[f.index] as { node: SchemaNode }).node;
          return step(push(push(below, { ...f, phase: 'next', spaced: false }), startFrame(node)), c, maxString);
        }
        case 'next':
          if (c === ',' && f.index + 1 < props.length) return push(below, { ...f, phase: 'key', index: f.index + 1, spaced: false });
          if (c === '}' && f.index + 1 === props.length) return below;
          return undefined;
      }
      return undefined;
    }
    case 'array': {
      if (f.phase === 'open') return c === '[' ? push(below, { ...f, phase: 'first', spaced: false }) : undefined;
      if (c === ' ') return f.spaced ? undefined : push(below, { ...f, spaced: true });
      if (f.phase === 'next') {
        if (c === ']') return below;
        if (c === ',' && f.count < f.node.maxItems) return push(below, { ...f, phase: 'item', spaced: false });
        return undefined;
      }
      if (f.phase === 'first' && c === ']') return below;
      if (f.count >= f.node.maxItems) return undefined;
      return step(push(push(below, { ...f, phase: 'next', count: f.count + 1, spaced: false }), startFrame(f.node.items)), c, maxString);
    }
  }
}
