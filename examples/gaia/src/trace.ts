import { readFileSync } from 'node:fs';
import { FileFormatError, type Source } from '@lora/core';
import { validate } from '@lora/core/internal';
import { type ChatMessage, ChatMessageSchema } from '@lora/data';
import { z } from 'zod';

/**
 * A tool offered to the model, in the OpenAI / Hugging Face chat-template layout:
 * `{ type: 'function', function: { name, description?, parameters? } }` with `parameters` a JSON
 * Schema object. Unknown keys are kept.
 */
export const GaiaToolSchema = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

/** A tool offered to the model. */
export type GaiaTool = z.output<typeof GaiaToolSchema>;

/**
 * One gold call: the function name and, for each argument, the list of acceptable values
 * (BFCL's possible-answer convention). `""` in a list means the argument may be omitted; a dict
 * value is itself a template whose keys map to lists of acceptable values.
 */
export const GoldCallSchema = z.strictObject({
  name: z.string().min(1),
  arguments: z.record(z.string(), z.array(z.unknown())),
});

/** One gold call with its acceptable argument values. */
export type GoldCall = z.output<typeof GoldCallSchema>;

/**
 * A tool-use trace: the format of converted BFCL rows and of users' own GAIA-style JSONL (one
 * trace per line).
 *
 * - `id`: unique name of the trace.
 * - `messages`: the conversation in the Hugging Face `messages` layout (`system`, `user`,
 *   `assistant` with optional `tool_calls: [{ type: 'function', function: { name, arguments } }]`,
 *   `tool` results with `tool_call_id`/`name`). It must contain an assistant message, the target
 *   of training.
 * - `tools`: the functions offered (see {@link GaiaToolSchema}); tool calls must name one of them.
 * - `gold`: the calls a correct final assistant turn makes, with acceptable values per argument.
 *   Optional in user files: when absent it is taken from the last assistant message's
 *   `tool_calls` (each argument accepting exactly its value), or `[]` when that message has none
 *   (the right answer is not to call a tool).
 * - `category`, `source`: free labels for reports (`simple_python`, `bfcl`, …). Other keys are kept.
 */
export const GaiaTraceSchema = z
  .looseObject({
    id: z.string().min(1),
    category: z.string().optional(),
    source: z.string().optional(),
    messages: z.array(ChatMessageSchema).min(2, 'a trace needs at least a user and an assistant message'),
    tools: z.array(GaiaToolSchema).optional(),
    gold: z.strictObject({ calls: z.array(GoldCallSchema) }).optional(),
  })
  .superRefine((trace, ctx) => {
    if (!trace.messages.some((m) => m.role === 'assistant')) {
      ctx.addIssue({ code: 'custom', path: ['messages'], message: 'a trace needs an assistant message to train on' });
    }
    const names = trace.tools === undefined ? undefined : new Set(trace.tools.map((t) => t.function.name));
    trace.messages.forEach((m, i) => {
      m.tool_calls?.forEach((call, j) => {
        const path = ['messages', i, 'tool_calls', j, 'function'];
        if (names !== undefined && !names.has(call.function.name)) {
          ctx.addIssue({ code: 'custom', path: [...path, 'name'], message: `calls \`${call.function.name}\`, which is not in \`tools\`` });
        }
        const args = call.function.arguments;
        if (typeof args === 'string' && !isJsonObjectText(args)) {
          ctx.addIssue({ code: 'custom', path: [...path, 'arguments'], message: 'a string `arguments` must be a JSON object' });
        }
      });
    });
    if (names !== undefined) {
      trace.gold?.calls.forEach((call, i) => {
        if (!names.has(call.name))
          ctx.addIssue({ code: 'custom', path: ['gold', 'calls', i, 'name'], message: `\`${call.name}\` is not in \`tools\`` });
      });
    }
  });

/** A trace as read from a file (`gold` may be absent). */
export type GaiaTraceInput = z.output<typeof GaiaTraceSchema>;

/** A validated trace with its gold calls filled in. */
export interface GaiaTrace {
  /** Unique name. */
  readonly id: string;
  /** Free label for reports, e.g. the BFCL category. */
  readonly category: string;
  /** Where the trace came from (`bfcl`, `user`). */
  readonly source: string;
  /** The conversation; the last assistant message is the target. */
  readonly messages: ChatMessage[];
  /** Functions offered to the model. */
  readonly tools: GaiaTool[];
  /** Calls a correct final assistant turn makes (`[]`: no call is right). */
  readonly gold: { readonly calls: GoldCall[] };
}

/**
 * Validates one user trace and fills in its defaults (`category` `"user"`, `source` `"user"`,
 * `tools` `[]`, `gold` from the last assistant message). Throws a `FileFormatError` naming the
 * source and field.
 */
export function toGaiaTrace(value: unknown, source: Source): GaiaTrace {
  const trace = validate(value, GaiaTraceSchema, source);
  const { id, category, source: from, messages, tools, gold, ...rest } = trace;
  return {
    ...rest,
    id,
    category: category ?? 'user',
    source: from ?? 'user',
    messages,
    tools: tools ?? [],
    gold: gold ?? { calls: goldFromMessages(messages) },
  };
}

/** Gold calls taken from the last assistant message: each argument accepts exactly its value. */
export function goldFromMessages(messages: readonly ChatMessage[]): GoldCall[] {
  const last = [...messages].reverse().find((m) => m.role === 'assistant');
  return (last?.tool_calls ?? []).map((call) => ({
    name: call.function.name,
    arguments: Object.fromEntries(Object.entries(argumentsObject(call.function.arguments)).map(([k, v]) => [k, [v]])),
  }));
}

/** A tool call's `arguments` as an object (parsing JSON text). */
export function argumentsObject(args: string | Record<string, unknown>): Record<string, unknown> {
  if (typeof args !== 'string') return args;
  const parsed: unknown = JSON.parse(args);
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}

function isJsonObjectText(text: string): boolean {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}

/**
 * Reads a GAIA-style JSONL file (one {@link GaiaTraceSchema} object per line, blank lines
 * ignored) into validated traces. Errors name `file:line` and the field; ids must be unique.
 *
 * @example
 * ```ts
 * const traces = readGaiaTraces('my-agent-traces.jsonl');
 * ```
 */
export function readGaiaTraces(file: string): GaiaTrace[] {
  const seen = new Set<string>();
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((text, i) => {
      if (text.trim() === '') return [];
      const source = { file, line: i + 1 };
      const trace = toGaiaTrace(parseJsonText(text, source), source);
      if (seen.has(trace.id))
        throw new FileFormatError({ ...source, field: 'id', message: `duplicate id \`${trace.id}\`; ids must be unique` });
      seen.add(trace.id);
      return [trace];
    });
}

function parseJsonText(text: string, source: Source): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new FileFormatError({ ...source, message: `invalid JSON: ${(error as Error).message}` });
  }
}
