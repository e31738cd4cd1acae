import type { ChatMessage } from '@lora/data';

/** A concrete function call: name and argument object. */
export interface ToolCallValue {
  /** Function name. */
  readonly name: string;
  /** Arguments by name. */
  readonly arguments: Record<string, unknown>;
}

/** How the calls were found in a completion. */
export type ToolCallFormat = 'tool_call_tags' | 'json' | 'python_tag' | 'embedded_json' | 'none';

/** Result of {@link parseToolCalls}. */
export interface ParsedToolCalls {
  /** Calls found, in order. Empty when the completion makes no call. */
  readonly calls: ToolCallValue[];
  /** Which layout matched. */
  readonly format: ToolCallFormat;
  /** Blocks that looked like calls but could not be read. */
  readonly errors: string[];
}

/** Writes calls as `<tool_call>{"name":…,"arguments":…}</tool_call>` lines (Qwen / Hermes layout). */
export function formatToolCallsText(calls: readonly ToolCallValue[]): string {
  return calls.map((c) => `<tool_call>${JSON.stringify({ name: c.name, arguments: c.arguments })}</tool_call>`).join('\n');
}

/**
 * Reads the tool calls in a model completion. Understood layouts, tried in order:
 *
 * 1. `<tool_call>{…}</tool_call>` blocks (Qwen 2.5/3, Hermes); the last closing tag may be missing.
 * 2. Llama 3.x: `<|python_tag|>` followed by one JSON call, or several separated by `;`.
 * 3. The whole completion (``` fences allowed) is JSON: one call object, an array of them, or
 *    `{"tool_calls": [...]}`.
 * 4. Otherwise, every top-level `{…}` in the text that is a call object.
 *
 * A call object is `{"name", "arguments"}` or `{"name", "parameters"}` (Llama), optionally wrapped
 * as `{"type": "function", "function": {…}}` (OpenAI); `arguments` may be a JSON string.
 *
 * @example
 * ```ts
 * parseToolCalls('<tool_call>{"name":"math.factorial","arguments":{"number":5}}</tool_call>').calls;
 * // [{ name: 'math.factorial', arguments: { number: 5 } }]
 * ```
 */
export function parseToolCalls(text: string): ParsedToolCalls {
  const errors: string[] = [];
  if (/<tool_call>/i.test(text)) {
    const calls: ToolCallValue[] = [];
    for (const m of text.matchAll(/<tool_call>([\s\S]*?)(?:<\/tool_call>|(?=<tool_call>)|$)/gi)) {
      const call = readCall(m[1] as string, errors);
      if (call !== undefined) calls.push(...call);
    }
    return { calls, format: 'tool_call_tags', errors };
  }
  const tagged = /<\|python_tag\|>([\s\S]*?)(?:<\|eom_id\|>|<\|eot_id\|>|$)/.exec(text);
  if (tagged !== null) {
    const calls = splitTopLevel(tagged[1] as string, ';').flatMap((part) => readCall(part, errors) ?? []);
    return { calls, format: 'python_tag', errors };
  }
  const whole = stripFences(text);
  const parsed = tryJson(whole);
  if (parsed !== undefined) {
    const calls = callsOf(parsed);
    if (calls !== undefined) return { calls, format: 'json', errors };
  }
  const embedded = jsonObjects(text).flatMap((obj) => {
    const v = tryJson(obj);
    return v === undefined ? [] : (callsOf(v) ?? []);
  });
  return { calls: embedded, format: embedded.length > 0 ? 'embedded_json' : 'none', errors };
}

/** The calls of a structured assistant message (`tool_calls`), e.g. from an API response. */
export function callsFromMessage(message: ChatMessage): ToolCallValue[] {
  return (message.tool_calls ?? []).flatMap((c) => {
    const args = typeof c.function.arguments === 'string' ? tryJson(c.function.arguments) : c.function.arguments;
    return isObject(args) ? [{ name: c.function.name, arguments: args }] : [];
  });
}

function readCall(body: string, errors: string[]): ToolCallValue[] | undefined {
  const value = tryJson(stripFences(body));
  if (value === undefined) {
    errors.push(`not JSON: ${body.trim().slice(0, 80)}`);
    return undefined;
  }
  const calls = callsOf(value);
  if (calls === undefined) errors.push(`not a call object: ${body.trim().slice(0, 80)}`);
  return calls;
}

function callsOf(value: unknown): ToolCallValue[] | undefined {
  if (Array.isArray(value)) {
    const calls = value.map(callOf);
    return calls.every((c) => c !== undefined) ? (calls as ToolCallValue[]) : undefined;
  }
  if (isObject(value) && Array.isArray(value.tool_calls)) return callsOf(value.tool_calls);
  const call = callOf(value);
  return call === undefined ? undefined : [call];
}

function callOf(value: unknown): ToolCallValue | undefined {
  if (!isObject(value)) return undefined;
  const inner = isObject(value.function) ? value.function : value;
  if (typeof inner.name !== 'string' || inner.name === '') return undefined;
  const rawArgs = inner.arguments ?? inner.parameters ?? {};
  const args = typeof rawArgs === 'string' ? tryJson(rawArgs) : rawArgs;
  return isObject(args) ? { name: inner.name, arguments: args } : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function stripFences(text: string): string {
  return text
    .trim()
    .replace(/^```(?:json)?\s*/i, '')
    .replace(/\s*```$/, '')
    .trim();
}

/** Splits at `sep` outside strings and brackets. */
function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === sep && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.filter((p) => p.trim() !== '');
}

/** Every top-level balanced `{…}` in `text` (string-aware). */
function jsonObjects(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (depth > 0 && inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (depth > 0 && c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' && depth > 0 && --depth === 0) out.push(text.slice(start, i + 1));
  }
  return out;
}
