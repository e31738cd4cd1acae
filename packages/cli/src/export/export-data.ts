import { FileFormatError } from '@lora/core';
import { type Example, type ReadReport, formatReadReport, readDataset } from '@lora/data';
import { exampleSchema, multipleChoicePrompt } from '@lora/data/internal';
import type { Recipe } from '@lora/recipe';

/**
 * The record shape written to `<out>/data/*.jsonl`:
 * - `messages`: `{"messages": [...], "tools"?: [...]}` (TRL conversational, axolotl `chat_template`;
 *   for axolotl under `mask: completion` each message carries `training`, true on the last only);
 * - `conversational-prompt-completion`: `{"prompt": [...messages], "completion": [last assistant message]}`
 *   (TRL trains the completion only: the recipe's `mask: completion` for conversations);
 * - `prompt-completion`: `{"prompt": "...", "completion": "..."}` (also multiple-choice records);
 * - `text`: `{"text": "..."}`.
 */
export type ExportedRecordKind = 'messages' | 'conversational-prompt-completion' | 'prompt-completion' | 'text';

/** The trainer a recipe is exported for. */
export type ExportTarget = 'trl' | 'axolotl';

/** Counts of one converted split. */
export interface ExportedSplit {
  /** The source file (after `${VAR}` expansion). */
  source: string;
  /** Records read from the source. */
  read: number;
  /** Records written. */
  written: number;
  /** Malformed records skipped (`data.mode: skip`). */
  skipped: number;
  /** Records whose bytes were not valid UTF-8. */
  invalidUtf8: number;
  /** The read report, formatted (empty when nothing was skipped). */
  problems: string;
  /** The JSONL text. */
  jsonl: string;
}

/** Which record shape a recipe's examples become (per example: formats may be mixed under `format: auto`). */
function kindOf(example: Example, mask: Recipe['data']['mask'], target: ExportTarget): ExportedRecordKind {
  switch (example.format) {
    case 'messages':
      return mask === 'completion' && target === 'trl' ? 'conversational-prompt-completion' : 'messages';
    case 'prompt-completion':
    case 'mc':
      return 'prompt-completion';
    case 'text':
      return 'text';
  }
}

function recordOf(
  example: Example,
  kind: ExportedRecordKind,
  mask: Recipe['data']['mask'],
  file: string,
  line: number,
): Record<string, unknown> {
  switch (example.format) {
    case 'messages': {
      const tools = example.tools === undefined ? {} : { tools: example.tools };
      if (kind === 'messages' && mask !== 'completion') return { messages: example.messages, ...tools };
      const last = example.messages.at(-1);
      if (last?.role !== 'assistant' || example.messages.length < 2) {
        throw new FileFormatError({
          file,
          line,
          field: 'messages',
          message:
            '`data.mask: completion` trains the final assistant message, but this conversation does not end with an assistant message after a prompt.',
        });
      }
      if (kind === 'messages') {
        // axolotl: a per-message `training` flag (message_field_training) trains the final turn only.
        const n = example.messages.length;
        return { messages: example.messages.map((m, i) => ({ ...m, training: i === n - 1 })), ...tools };
      }
      return { prompt: example.messages.slice(0, -1), completion: [last], ...tools };
    }
    case 'prompt-completion':
      return { prompt: example.prompt, completion: example.completion };
    case 'mc':
      return multipleChoicePrompt(example);
    case 'text':
      return { text: example.text };
  }
}

/**
 * Reads a recipe's split with @lora/data's readers (the recipe's `format` and `mode`: a malformed
 * record is an error at `file:line`, or counted and skipped) and converts it to the JSONL that TRL
 * and axolotl read. Every record of a split must become the same shape (a Hugging Face dataset has
 * one schema): a mix is an error naming the line.
 */
export async function convertSplit(
  file: string,
  recipe: Recipe,
  limit: number | undefined,
  target: ExportTarget,
): Promise<ExportedSplit & { kind: ExportedRecordKind }> {
  const format = recipe.data.format;
  const schema = format === 'auto' ? exampleSchema('auto') : (exampleSchema(format) as ReturnType<typeof exampleSchema>);
  const reader = readDataset(file, { schema, mode: recipe.data.mode });
  const lines: string[] = [];
  let kind: ExportedRecordKind | undefined;
  for await (const { line, value } of reader.entries()) {
    if (limit !== undefined && lines.length >= limit) break;
    const example = value as Example;
    const k = kindOf(example, recipe.data.mask, target);
    if (kind === undefined) kind = k;
    else if (k !== kind) {
      throw new FileFormatError({
        file,
        line,
        message: `this ${example.format} record would become a "${k}" row but the earlier ones are "${kind}" rows; TRL and axolotl read one record shape per file (set \`data.format\` or split the file).`,
      });
    }
    lines.push(JSON.stringify(recordOf(example, k, recipe.data.mask, file, line)));
  }
  const report: ReadReport = reader.report;
  if (report.read === 0) throw new FileFormatError({ file, message: 'the dataset is empty: it holds no record.' });
  if (kind === undefined) {
    throw new FileFormatError({ file, message: `no valid record: all ${report.read} were skipped.\n${formatReadReport(report)}` });
  }
  return {
    kind,
    source: file,
    read: report.read,
    written: lines.length,
    skipped: report.skipped.length,
    invalidUtf8: report.invalidUtf8,
    problems: report.skipped.length > 0 || report.invalidUtf8 > 0 ? formatReadReport(report) : '',
    jsonl: `${lines.join('\n')}\n`,
  };
}
