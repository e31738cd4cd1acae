import { Option, type Command } from 'commander';
import type { DatasetFormat, ReadReport } from '@lora/data';
import type { InspectSummary } from '@lora/data/internal';
import type { CliIo } from '../io.js';
import { chatTemplateOption, integer, readChatTemplateOption } from '../options.js';

/** Parsed options of `lora data inspect`. */
export interface DataInspectOptions {
  /** Tokenizer folder or model name (resolved like `--model`). */
  tokenizer: string;
  /** Record format; `auto` detects it per record. */
  format: DatasetFormat | 'auto';
  /** Print one JSON line per record (and a summary line) instead of the rendered example. */
  json: boolean;
  /** Measure records as truncated to this many tokens. */
  maxLength: number | undefined;
  /** `strict`: the first bad record fails the command; `skip`: bad records are counted and listed. */
  mode: 'strict' | 'skip';
  /** `stories` (the built-in stories260K template) or a Jinja chat template file, for tokenizers without one. */
  chatTemplate: string | undefined;
  /** Hidden alias of `--chat-template stories` (the old spelling). */
  storiesTemplate: boolean;
  /** Which record to render (1-based, default the first). */
  show: number;
}

/**
 * Registers `lora data inspect <file>`: per-record token counts and trained-token counts, and a
 * rendered example with the trained tokens highlighted. A malformed record exits non-zero with
 * `file:line` and the field; so does a file without records. Records whose bytes are not valid
 * UTF-8 are counted and their lines listed.
 *
 * @example
 * ```sh
 * lora data inspect train.jsonl --tokenizer /models/Qwen3-0.6B --max-length 1024
 * lora data inspect train.jsonl --tokenizer stories260K --chat-template stories --json
 * ```
 */
export function registerDataInspect(program: Command, io: CliIo): void {
  const data = program.commands.find((c) => c.name() === 'data') ?? program.command('data').description('Dataset tools.');
  data
    .command('inspect')
    .description('Token counts per record and a rendered example with the trained tokens highlighted.')
    .argument('<file>', 'dataset file: .jsonl, .json, .csv, .tsv or .parquet')
    .requiredOption('--tokenizer <name-or-path>', 'tokenizer folder (tokenizer.json or llama2.c tokenizer.bin) or model name')
    .addOption(
      new Option('--format <format>', 'record format').choices(['auto', 'messages', 'prompt-completion', 'text', 'mc']).default('auto'),
    )
    .option('--json', 'one JSON line per record, then a summary line', false)
    .option('--max-length <n>', 'measure truncation at this many tokens', integer(1))
    .addOption(
      new Option('--mode <mode>', 'strict: stop at the first bad record; skip: count and list them')
        .choices(['strict', 'skip'])
        .default('strict'),
    )
    .addOption(chatTemplateOption())
    .addOption(new Option('--stories-template', 'same as --chat-template stories').default(false).hideHelp())
    .option('--show <n>', 'record to render (1-based)', integer(1), 1)
    .action(async (file: string, options: DataInspectOptions) => {
      await dataInspect(file, options, io);
    });
}

async function dataInspect(file: string, options: DataInspectOptions, io: CliIo): Promise<void> {
  const { resolveAsset } = await import('@lora/core');
  const data = await import('@lora/data');
  const { recordStats, inspectDataset, renderTrainedTokens } = await import('@lora/data/internal');
  const dir = await resolveAsset(options.tokenizer, { kind: 'model', env: io.env, allowDownload: false });
  const tokenizer = await data.loadTokenizer(dir);
  const chatTemplate = await readChatTemplateOption(options.storiesTemplate ? 'stories' : options.chatTemplate);
  const inspection = inspectDataset({
    file,
    tokenizer,
    format: options.format,
    mode: options.mode,
    ...(options.maxLength === undefined ? {} : { maxLength: options.maxLength }),
    ...(chatTemplate === undefined ? {} : { encoding: { chatTemplate } }),
  });
  let shown = false;
  for await (const record of inspection) {
    if (options.json) io.writeOut(`${JSON.stringify(recordStats(record))}\n`);
    else if (!shown && record.index + 1 >= options.show) {
      shown = true;
      io.writeOut(
        `── record at ${file}:${record.line} (${record.example.format}, ${record.tokens} tokens, ${record.trainedTokens} trained) ──\n`,
      );
      io.writeOut(
        `${renderTrainedTokens(tokenizer, record.encoded, { color: io.env.NO_COLOR === undefined && process.stdout.isTTY === true })}\n\n`,
      );
    }
  }
  const report = inspection.report;
  if (report.read === 0) {
    const { FileFormatError } = await import('@lora/core');
    throw new FileFormatError({ file, message: 'the dataset is empty: it holds no record.' });
  }
  if (options.json) {
    io.writeOut(
      `${JSON.stringify({
        summary: inspection.summary,
        read: report.read,
        kept: report.kept,
        skipped: report.skipped.length,
        invalidUtf8: report.invalidUtf8,
      })}\n`,
    );
  } else {
    io.writeOut(summaryTable(inspection.summary, report, options.maxLength));
    if (report.skipped.length > 0 || report.invalidUtf8 > 0) io.writeOut(`${data.formatReadReport(report)}\n`);
  }
}

function summaryTable(s: InspectSummary, report: ReadReport, maxLength: number | undefined): string {
  const rows: [string, string][] = [
    ['records read', String(report.read)],
    ['records inspected', String(s.records)],
    ['records skipped', String(report.skipped.length)],
    ['records with invalid UTF-8', String(report.invalidUtf8)],
    ['tokens', String(s.tokens)],
    ['trained tokens', String(s.trainedTokens)],
    ['mean tokens / record', s.records === 0 ? '-' : (s.tokens / s.records).toFixed(1)],
    ['longest record', String(s.maxTokens)],
    ['records without trained tokens', String(s.withoutTrainedTokens)],
  ];
  if (maxLength !== undefined) rows.push([`records over ${maxLength} tokens`, String(s.truncatedRecords)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`;
}
