import type { Source } from '@lora/core';
import { validate } from '@lora/core/internal';
import { z } from 'zod';
import { MessagesRecordSchema, type ChatMessage } from './messages.js';
import { MultipleChoiceRecordSchema } from './multiple-choice.js';
import { PromptCompletionRecordSchema, TextRecordSchema } from './prompt-completion.js';

/** The dataset formats: chat `messages`, `prompt-completion`, plain `text` and multiple choice (`mc`). */
export type DatasetFormat = 'messages' | 'prompt-completion' | 'text' | 'mc';

/** Every {@link DatasetFormat}, in the order {@link detectFormat} tries them. */
export const DATASET_FORMATS: readonly DatasetFormat[] = ['messages', 'prompt-completion', 'mc', 'text'];

/**
 * The common form every record is converted to. Switch on `format`: a conversation (`messages`),
 * a prompt and the completion to train on (`prompt-completion`), plain text trained on every token
 * (`text`) or a multiple-choice question whose `answer` is the 0-based index of the right option
 * (`mc`). `metadata` holds the keys other than the format's own, kept for splitting and reporting
 * (e.g. `id`, `intent`).
 */
export type Example =
  | {
      readonly format: 'messages';
      readonly messages: readonly ChatMessage[];
      readonly tools?: readonly Record<string, unknown>[];
      readonly metadata: Readonly<Record<string, unknown>>;
    }
  | {
      readonly format: 'prompt-completion';
      readonly prompt: string;
      readonly completion: string;
      readonly metadata: Readonly<Record<string, unknown>>;
    }
  | { readonly format: 'text'; readonly text: string; readonly metadata: Readonly<Record<string, unknown>> }
  | {
      readonly format: 'mc';
      readonly question: string;
      readonly options: readonly string[];
      readonly answer: number;
      readonly metadata: Readonly<Record<string, unknown>>;
    };

/** Keys other than the format's own, kept for splitting and reporting (e.g. `id`, `intent`). */
export type ExampleMetadata = Example['metadata'];
/** A conversation. */
export type MessagesExample = Extract<Example, { format: 'messages' }>;
/** A prompt and the completion to train on. */
export type PromptCompletionExample = Extract<Example, { format: 'prompt-completion' }>;
/** Plain text, trained on every token. */
export type TextExample = Extract<Example, { format: 'text' }>;
/** A multiple-choice question; `answer` is the 0-based index of the right option. */
export type MultipleChoiceExample = Extract<Example, { format: 'mc' }>;

/**
 * Guesses a record's format from its keys: `messages` (array) → `messages`; `prompt` and
 * `completion` → `prompt-completion`; `question` and `options` → `mc`; `text` → `text`.
 * Returns `undefined` when none match.
 */
export function detectFormat(record: unknown): DatasetFormat | undefined {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return undefined;
  const has = (key: string): boolean => key in record;
  if (has('messages') && Array.isArray((record as { messages: unknown }).messages)) return 'messages';
  if (has('prompt') && has('completion')) return 'prompt-completion';
  if (has('question') && has('options')) return 'mc';
  if (has('text')) return 'text';
  return undefined;
}

const ownKeys: Record<DatasetFormat, readonly string[]> = {
  messages: ['messages', 'tools'],
  'prompt-completion': ['prompt', 'completion'],
  text: ['text'],
  mc: ['question', 'options', 'answer'],
};

function metadataOf(record: Record<string, unknown>, format: DatasetFormat): ExampleMetadata {
  const own = ownKeys[format];
  return Object.fromEntries(Object.entries(record).filter(([k]) => !own.includes(k)));
}

const schemas = {
  messages: MessagesRecordSchema.transform(
    (r): MessagesExample => ({
      format: 'messages',
      messages: r.messages,
      ...(r.tools === undefined ? {} : { tools: r.tools }),
      metadata: metadataOf(r, 'messages'),
    }),
  ),
  'prompt-completion': PromptCompletionRecordSchema.transform(
    (r): PromptCompletionExample => ({
      format: 'prompt-completion',
      prompt: r.prompt,
      completion: r.completion,
      metadata: metadataOf(r, 'prompt-completion'),
    }),
  ),
  text: TextRecordSchema.transform((r): TextExample => ({ format: 'text', text: r.text, metadata: metadataOf(r, 'text') })),
  mc: MultipleChoiceRecordSchema.transform(
    (r): MultipleChoiceExample => ({
      format: 'mc',
      question: r.question,
      options: r.options,
      answer: r.answer,
      metadata: metadataOf(r, 'mc'),
    }),
  ),
} satisfies Record<DatasetFormat, z.ZodType<Example>>;

/** The record schema of one format, with output {@link Example}. */
export type ExampleSchemaOf<F extends DatasetFormat> = (typeof schemas)[F];

/**
 * A zod schema that validates a record of `format` and converts it to an {@link Example}; with
 * `'auto'` (default) the format is detected per record ({@link detectFormat}). Pass it to any
 * reader.
 *
 * @example
 * ```ts
 * for await (const ex of readJsonl('chats.jsonl', { schema: exampleSchema('messages') })) ex.messages;
 * ```
 */
export function exampleSchema<F extends DatasetFormat>(format: F): ExampleSchemaOf<F>;
export function exampleSchema(format?: 'auto'): z.ZodType<Example>;
export function exampleSchema(format: DatasetFormat | 'auto' = 'auto'): z.ZodType<Example> {
  if (format !== 'auto') return schemas[format];
  return z.unknown().transform((record, ctx): Example => {
    const detected = detectFormat(record);
    if (detected === undefined) {
      ctx.addIssue({
        code: 'custom',
        message:
          'cannot tell the record format: expected `messages`, `prompt` + `completion`, `question` + `options` + `answer`, or `text`; pass the format explicitly if the keys differ',
      });
      return z.NEVER;
    }
    const result = schemas[detected].safeParse(record);
    if (!result.success) {
      for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
      return z.NEVER;
    }
    return result.data;
  });
}

/**
 * Validates one record of `format` (detected by default) and converts it to an {@link Example};
 * throws a `FileFormatError` naming `source` and the field on failure.
 */
export function toExample(record: unknown, format: DatasetFormat | 'auto' = 'auto', source: Source = { file: '<record>' }): Example {
  const schema: z.ZodType<Example> = format === 'auto' ? exampleSchema('auto') : exampleSchema(format);
  return validate(record, schema, source);
}
