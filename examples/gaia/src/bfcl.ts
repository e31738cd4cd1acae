import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssetNotFoundError, FileFormatError, InvalidArgumentError, parseJson, type Source } from '@lora/core';
import type { ChatMessage } from '@lora/data';
import { z } from 'zod';
import { formatToolCallsText } from './tool-calls.js';
import { GaiaTraceSchema, type GaiaTool, type GaiaTrace, type GoldCall } from './trace.js';

/** The single-turn BFCL v4 categories this recipe converts (file `BFCL_v4_<category>.json`). */
export const BFCL_CATEGORIES = ['simple_python', 'multiple', 'parallel', 'parallel_multiple', 'live_simple', 'irrelevance'] as const;

/** A convertible BFCL category. */
export type BfclCategory = (typeof BFCL_CATEGORIES)[number];

const BfclMessageSchema = z.looseObject({ role: z.enum(['system', 'user', 'assistant']), content: z.string() });

/** A BFCL function document: `parameters` uses BFCL's types (`dict`, `float`, `tuple`, `any`, …). */
export const BfclFunctionSchema = z.looseObject({
  name: z.string().min(1),
  description: z.string().optional(),
  parameters: z.looseObject({
    type: z.string(),
    properties: z.record(z.string(), z.unknown()).optional(),
    required: z.array(z.string()).optional(),
  }),
});

/** One question row: `question` is a list of turns, each a list of messages. */
export const BfclQuestionSchema = z.looseObject({
  id: z.string().min(1),
  question: z.array(z.array(BfclMessageSchema)).min(1),
  function: z.array(BfclFunctionSchema).min(1),
});

/** One possible-answer row: a list of calls `{ <function>: { <param>: [acceptable values] } }`. */
export const BfclAnswerSchema = z.looseObject({
  id: z.string().min(1),
  ground_truth: z.array(z.record(z.string(), z.record(z.string(), z.array(z.unknown())))),
});

/** Options of {@link loadBfcl}. */
export interface LoadBfclOptions {
  /** Categories to convert. Default: all of {@link BFCL_CATEGORIES}. */
  categories?: readonly BfclCategory[];
  /**
   * How the assistant's calls are written. `tool_calls` (default): an assistant message with
   * `tool_calls: [{ type: 'function', function: { name, arguments } }]` and empty content (Qwen3's
   * template needs a string there), rendered
   * by the chat template (Qwen3, Llama 3.x, Mistral). `text`: the calls as
   * `<tool_call>{"name":…,"arguments":…}</tool_call>` lines in `content`, for templates without
   * tool support (Gemma 3, stories260K).
   */
  toolCallStyle?: 'tool_calls' | 'text';
  /** Put the tool list in the system message (default true); `tools` is always set as well. */
  listToolsInSystem?: boolean;
}

/** Result of {@link loadBfcl}. */
export interface BfclLoadResult {
  /** Converted traces, categories in the requested order, rows in file order. */
  readonly traces: GaiaTrace[];
  /** Traces per category. */
  readonly counts: Readonly<Record<string, number>>;
}

/** System prompt head of converted traces; the tool list follows it. */
export const GAIA_SYSTEM_PROMPT =
  'You are a helpful assistant that can call functions. To call a function, answer with ' +
  '<tool_call>{"name": <function name>, "arguments": {<argument>: <value>, …}}</tool_call>, one line per call. ' +
  'If none of the functions fits the request, answer in plain text without a call.';

/** Answer of the assistant when no function fits (BFCL irrelevance rows). */
export const NO_CALL_ANSWER = 'None of the available functions can help with this request.';

/**
 * Converts BFCL v4 single-turn categories to {@link GaiaTrace}s. Reads
 * `<dir>/BFCL_v4_<category>.json` (JSON Lines) and `<dir>/possible_answer/BFCL_v4_<category>.json`;
 * every question must have an answer row with the same id (irrelevance has none: its gold is
 * "no call"). Each trace is `system` (tool list) → the BFCL turn (its own system message is
 * merged into ours) → `assistant` making the gold calls, each argument set to its first
 * acceptable value (omitted when that value is `""`). All acceptable values stay in `gold` for
 * scoring; an empty acceptable-value list (a BFCL quirk on a few live_simple rows) is read as
 * "the empty list". BFCL types become JSON Schema (`dict`→`object`, `float`→`number`, `tuple`→`array`,
 * `any`→no type).
 *
 * multi_turn_base is not converted: its answers are Python call strings that must be executed
 * against BFCL's simulated backends to produce tool results, and only the vehicle-control
 * function document ships in ../shared.
 *
 * @example
 * ```ts
 * const { traces, counts } = loadBfcl(`${process.env.LORA_ASSETS_DIR}/data/bfcl`);
 * ```
 */
export function loadBfcl(dir: string, options: LoadBfclOptions = {}): BfclLoadResult {
  if (!existsSync(dir)) {
    throw new AssetNotFoundError({
      asset: 'bfcl',
      searched: [dir],
      hint: 'set LORA_ASSETS_DIR to the folder that holds data/bfcl (../shared)',
    });
  }
  const categories = options.categories ?? BFCL_CATEGORIES;
  const traces: GaiaTrace[] = [];
  const counts: Record<string, number> = {};
  for (const category of categories) {
    if (!(BFCL_CATEGORIES as readonly string[]).includes(category)) {
      throw new InvalidArgumentError({
        argument: 'categories',
        message: `unknown BFCL category \`${category}\`; use ${BFCL_CATEGORIES.join(', ')}`,
      });
    }
    const questionFile = join(dir, `BFCL_v4_${category}.json`);
    const questions = readJsonLines(questionFile, BfclQuestionSchema);
    const answers = new Map<string, z.output<typeof BfclAnswerSchema>>();
    if (category !== 'irrelevance') {
      const answerFile = join(dir, 'possible_answer', `BFCL_v4_${category}.json`);
      for (const row of readJsonLines(answerFile, BfclAnswerSchema)) answers.set(row.value.id, row.value);
    }
    for (const { value: q, source } of questions) {
      const answer = answers.get(q.id);
      if (category !== 'irrelevance' && answer === undefined) {
        throw new FileFormatError({
          file: source.file,
          line: source.line as number,
          field: 'id',
          message: `question \`${q.id}\` has no row in possible_answer/`,
        });
      }
      const gold: GoldCall[] = (answer?.ground_truth ?? []).map((call) => {
        const [name, args] = Object.entries(call)[0] as [string, Record<string, unknown[]>];
        // BFCL writes `[]` (no acceptable value) where it means "the empty list": `[[]]`.
        return { name, arguments: Object.fromEntries(Object.entries(args).map(([k, v]) => [k, v.length === 0 ? [[]] : v])) };
      });
      traces.push(convertRow(q, category, gold, options));
    }
    counts[category] = questions.length;
  }
  return { traces, counts };
}

function convertRow(q: z.output<typeof BfclQuestionSchema>, category: BfclCategory, gold: GoldCall[], options: LoadBfclOptions): GaiaTrace {
  const tools = q.function.map(bfclFunctionToTool);
  const turn = q.question[0] as z.output<typeof BfclMessageSchema>[];
  const ownSystem = turn.filter((m) => m.role === 'system').map((m) => m.content);
  const system = [
    ...ownSystem,
    ...(options.listToolsInSystem === false
      ? []
      : [`${GAIA_SYSTEM_PROMPT}\n\nFunctions:\n${tools.map((t) => JSON.stringify(t.function)).join('\n')}`]),
  ].join('\n\n');
  const calls = gold.map((g) => ({ name: g.name, arguments: canonicalArguments(g.arguments) }));
  const assistant: ChatMessage =
    calls.length === 0
      ? { role: 'assistant', content: NO_CALL_ANSWER }
      : options.toolCallStyle === 'text'
        ? { role: 'assistant', content: formatToolCallsText(calls) }
        : {
            role: 'assistant',
            content: '',
            tool_calls: calls.map((c) => ({ type: 'function' as const, function: { name: c.name, arguments: c.arguments } })),
          };
  const messages: ChatMessage[] = [
    ...(system === '' ? [] : [{ role: 'system' as const, content: system }]),
    ...turn.filter((m) => m.role !== 'system').map((m) => ({ role: m.role, content: m.content })),
    assistant,
  ];
  const trace = { id: q.id, category, source: 'bfcl', messages, tools, gold: { calls: gold } };
  GaiaTraceSchema.parse(trace);
  return trace;
}

/** A BFCL function document as an OpenAI / HF tool, its parameters turned into JSON Schema. */
export function bfclFunctionToTool(fn: z.output<typeof BfclFunctionSchema>): GaiaTool {
  return {
    type: 'function',
    function: {
      name: fn.name,
      ...(fn.description === undefined ? {} : { description: fn.description }),
      parameters: bfclTypeToJsonSchema(fn.parameters) as Record<string, unknown>,
    },
  };
}

const TYPE_MAP: Readonly<Record<string, string | undefined>> = {
  dict: 'object',
  float: 'number',
  tuple: 'array',
  any: undefined,
  string: 'string',
  integer: 'integer',
  boolean: 'boolean',
  array: 'array',
  object: 'object',
  number: 'number',
};

/** Rewrites BFCL's parameter types (`dict`, `float`, `tuple`, `any`) into JSON Schema, recursively. */
export function bfclTypeToJsonSchema(schema: unknown): unknown {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    if (key === 'type' && typeof value === 'string') {
      const mapped = Object.hasOwn(TYPE_MAP, value) ? TYPE_MAP[value] : value;
      if (mapped !== undefined) out.type = mapped;
    } else if (key === 'properties' && value !== null && typeof value === 'object') {
      out.properties = Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, bfclTypeToJsonSchema(v)]));
    } else if (key === 'items' || key === 'additionalProperties') {
      out[key] = bfclTypeToJsonSchema(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/**
 * One concrete argument object from acceptable-value lists: the first acceptable value of each
 * argument (dict templates resolved recursively); an argument whose first value is `""` is omitted.
 */
export function canonicalArguments(args: Readonly<Record<string, readonly unknown[]>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, accepted] of Object.entries(args)) {
    const first = accepted[0];
    if (first === '' || accepted.length === 0) continue;
    out[key] = canonicalValue(first);
  }
  return out;
}

function canonicalValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalValue);
  if (value !== null && typeof value === 'object') return canonicalArguments(value as Record<string, unknown[]>);
  return value;
}

function readJsonLines<S extends z.ZodType>(file: string, schema: S): { value: z.output<S>; source: Source }[] {
  if (!existsSync(file)) {
    throw new AssetNotFoundError({
      asset: file,
      searched: [file],
      hint: 'the BFCL folder needs BFCL_v4_<category>.json and possible_answer/',
    });
  }
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((text, i) => ({ text, source: { file, line: i + 1 } }))
    .filter(({ text }) => text.trim() !== '')
    .map(({ text, source }) => ({ value: parseJson(text, schema, source), source }));
}
