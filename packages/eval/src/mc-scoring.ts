import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError } from '@lora/core';
import { validate } from '@lora/core/internal';
import { type CausalLM, type TextTokenizer, scoreContinuations } from '@lora/models';
import { z } from 'zod';
import { type CalibrationReport, expectedCalibrationError } from './metrics/calibration.js';
import { codePointLength, multipleChoiceOutcome, type McOutcome, type OptionScore } from './metrics/multiple-choice.js';

/** A multiple-choice item: the gold `answer` is an option index or the option text. */
export const McItemSchema: z.ZodType<McItemParsed, McItem> = z
  .object({
    id: z.union([z.string(), z.number()]).transform(String).optional(),
    question: z.string(),
    options: z.array(z.string()).min(1),
    answer: z.union([z.number().int().nonnegative(), z.string()]),
  })
  .loose();

/** A multiple-choice item as given: the gold `answer` is an option index or the option text. Other keys are kept. */
export interface McItem {
  /** Question id (a number becomes a string; default the item's index). */
  id?: string | number | undefined;
  /** Question text. */
  question: string;
  /** The options (at least one). */
  options: string[];
  /** Gold option: its index or its text. */
  answer: number | string;
  [key: string]: unknown;
}

/** A validated {@link McItem}. */
type McItemParsed = { id?: string | undefined; question: string; options: string[]; answer: number | string; [key: string]: unknown };

/** Result of {@link scoreMultipleChoice}. */
export interface McReport {
  acc: number;
  accNorm: number;
  count: number;
  /** Calibration of the model's top-option probability (softmax over option sums) against `acc`. */
  calibration: CalibrationReport;
  /** The saved result of each question. */
  questions: Array<McOutcome & { id: string; question: string; answer: number; scores: OptionScore[] }>;
}

/**
 * Encodes `context + continuation` and splits it where `context` alone ends, as the harness'
 * `_encode_pair` does (trailing spaces of the context move to the continuation), so tokens that
 * merge across the boundary are scored as the model would see them. Falls back to separate
 * encodings when the joint encoding does not start with the context's tokens.
 */
export function encodePair(tokenizer: TextTokenizer, context: string, continuation: string): { prompt: number[]; continuation: number[] } {
  const spaces = context.length - context.trimEnd().length;
  const ctx = spaces > 0 ? context.slice(0, -spaces) : context;
  const cont = spaces > 0 ? context.slice(-spaces) + continuation : continuation;
  const whole = tokenizer.encode(ctx + cont);
  const prompt = tokenizer.encode(ctx);
  if (prompt.every((t, i) => whole[i] === t) && whole.length > prompt.length) return { prompt, continuation: whole.slice(prompt.length) };
  return { prompt, continuation: tokenizer.encode(cont, { addBos: false }) };
}

/**
 * Scores multiple-choice items by the log-probability of each option as a continuation of the
 * question (`scoreContinuations`): `acc` by the sum, `acc_norm` by the sum per character, as
 * lm-evaluation-harness' `multiple_choice` tasks. Per-option scores are kept for every question.
 *
 * @example
 * ```ts
 * const r = await scoreMultipleChoice({ model, tokenizer, items: [{ question: '2+2?', options: ['3', '4'], answer: 1 }] });
 * r.acc; r.accNorm; r.questions[0].scores;
 * ```
 */
export async function scoreMultipleChoice(options: {
  model: CausalLM;
  tokenizer: TextTokenizer;
  items: readonly McItem[];
  /** Context text of a question; default lm-evaluation-harness' common `"Question: {q}\nAnswer:"`. */
  formatQuestion?: (item: McItem) => string;
  /** Put between context and option (the harness' `target_delimiter`). Default `' '`. */
  delimiter?: string;
  /** Continuations per forward batch. Default 8. */
  batchSize?: number;
  /** Call `onProgress` every this many questions (and at the end). Default 10. */
  progressEvery?: number;
  onProgress?: (done: number, total: number) => void;
  /** Write per-question results here as JSON (`{summary, questions}`). */
  outFile?: string;
  /** Bins of the calibration report. Default 10. */
  calibrationBins?: number;
}): Promise<McReport> {
  const { model, tokenizer } = options;
  const delimiter = options.delimiter ?? ' ';
  const format = options.formatQuestion ?? ((item: McItem): string => `Question: ${item.question}\nAnswer:`);
  const every = options.progressEvery ?? 10;
  const items = options.items.map((raw, i) => validate(raw, McItemSchema, { file: `items[${i}]` }));
  const questions: McReport['questions'] = [];
  for (let q = 0; q < items.length; q++) {
    const item = items[q] as z.output<typeof McItemSchema>;
    const answer = typeof item.answer === 'number' ? item.answer : item.options.indexOf(item.answer);
    if (answer < 0 || answer >= item.options.length) {
      throw new InvalidArgumentError({
        argument: `items[${q}].answer`,
        message: `${JSON.stringify(item.answer)} is not one of the ${item.options.length} options.`,
      });
    }
    const context = format(item);
    const pairs = item.options.map((o) => encodePair(tokenizer, context, delimiter + o));
    const results = await scoreContinuations(model, pairs, { batchSize: options.batchSize ?? 8 });
    const scores: OptionScore[] = item.options.map((o, k) => ({
      option: o,
      sum: results[k]?.sum ?? Number.NaN,
      chars: codePointLength(o),
      tokens: pairs[k]?.continuation.length ?? 0,
      isGreedy: results[k]?.isGreedy ?? false,
    }));
    questions.push({ id: item.id ?? String(q), question: item.question, answer, scores, ...multipleChoiceOutcome(scores, answer) });
    if ((q + 1) % every === 0 || q === items.length - 1) options.onProgress?.(q + 1, items.length);
  }
  const n = questions.length;
  const report: McReport = {
    acc: n === 0 ? 0 : questions.reduce((a, x) => a + x.acc, 0) / n,
    accNorm: n === 0 ? 0 : questions.reduce((a, x) => a + x.accNorm, 0) / n,
    count: n,
    calibration: expectedCalibrationError(
      questions.map((x) => Math.min(1, Math.max(0, x.probs[x.pred] ?? 0))),
      questions.map((x) => x.acc === 1),
      options.calibrationBins ?? 10,
    ),
    questions,
  };
  if (options.outFile !== undefined) {
    const { questions: qs, ...summary } = report;
    await writeFile(options.outFile, `${JSON.stringify({ summary, questions: qs }, null, 1)}\n`);
  }
  return report;
}
