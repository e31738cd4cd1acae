import { readFile } from 'node:fs/promises';
import { FileFormatError, InvalidArgumentError, parseJson } from '@lora/core';
import { validate } from '@lora/core/internal';
import { z } from 'zod';

/** A chat message of a test example. */
export const TestMessageSchema = z.object({ role: z.string(), content: z.string() }).loose();

/**
 * One test example: an `id` (numbers are turned into strings), a `prompt` or chat `messages`,
 * an optional `reference` of any JSON type, and `addSpecialTokens: false` for a prompt a chat
 * template rendered (its special tokens are in the text already; `apply_chat_template` adds none).
 * Other keys are kept.
 */
export const TestExampleSchema: z.ZodType<TestExample> = z
  .object({
    id: z.union([z.string(), z.number()]).transform(String),
    prompt: z.string().optional(),
    messages: z.array(TestMessageSchema).optional(),
    reference: z.unknown().optional(),
    addSpecialTokens: z.boolean().optional(),
  })
  .loose()
  .superRefine((v, ctx) => {
    if (v.prompt === undefined && v.messages === undefined) {
      ctx.addIssue({ code: 'custom', message: 'needs `prompt` (text) or `messages` (chat)', path: ['prompt'] });
    }
  });

/** A parsed test example (see `readTestSet` for the rules its fields follow). Other keys are kept. */
export interface TestExample {
  /** Example id (a number in the file becomes a string). */
  id: string;
  /** Prompt text (or `messages`). */
  prompt?: string | undefined;
  /** Chat messages (or `prompt`). */
  messages?: Array<{ role: string; content: string; [key: string]: unknown }> | undefined;
  /** Reference answer, of any JSON type. */
  reference?: unknown;
  /** `false` for a prompt a chat template rendered (its special tokens are in the text already). */
  addSpecialTokens?: boolean | undefined;
  [key: string]: unknown;
}

/**
 * Reads a test set: a `.jsonl` file (one example per line, blank lines skipped) or a `.json`
 * file holding an array. Every row is validated; duplicate ids are an error.
 *
 * @example
 * ```ts
 * const examples = await readTestSet('data/test.jsonl'); // [{ id: '1', prompt: '…', reference: … }]
 * ```
 */
export async function readTestSet(file: string): Promise<TestExample[]> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new FileFormatError({
      file,
      message: `cannot read the test set (${(error as Error).message}); pass an existing .jsonl or .json file.`,
      cause: error,
    });
  });
  let rows: TestExample[];
  if (file.endsWith('.json')) {
    rows = parseJson(text, z.array(TestExampleSchema), { file });
  } else {
    rows = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() !== '') rows.push(parseJson(line, TestExampleSchema, { file, line: i + 1 }));
    });
  }
  return checkIds(rows, file);
}

/** Validates in-memory examples (e.g. from `@lora/data` readers) with the same rules as files. */
export function toTestSet(rows: readonly unknown[], source = 'examples'): TestExample[] {
  return checkIds(
    rows.map((r, i) => validate(r, TestExampleSchema, { file: `${source}[${i}]` })),
    source,
  );
}

function checkIds(rows: TestExample[], file: string): TestExample[] {
  const seen = new Set<string>();
  for (const r of rows) {
    if (seen.has(r.id))
      throw new InvalidArgumentError({
        argument: 'testSet',
        message: `${file}: id "${r.id}" appears twice; ids must be unique (resume relies on them).`,
      });
    seen.add(r.id);
  }
  return rows;
}
