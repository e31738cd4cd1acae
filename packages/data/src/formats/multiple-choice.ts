import { z } from 'zod';

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * A multiple-choice record: `{ question, options: string[], answer }` where `answer` is a 0-based
 * index or a letter (`"B"`, `"b"`, `"(B)"`). The parsed `answer` is always the 0-based index.
 */
export const MultipleChoiceRecordSchema = z
  .looseObject({
    question: z.string(),
    options: z.array(z.string()).min(2, 'a multiple-choice question needs at least 2 options'),
    answer: z.union([z.number().int().nonnegative(), z.string()]),
  })
  .transform((record, ctx) => {
    const index = typeof record.answer === 'number' ? record.answer : letterIndex(record.answer);
    if (index === undefined || index >= record.options.length) {
      const last = LETTERS[record.options.length - 1] ?? '?';
      ctx.addIssue({
        code: 'custom',
        path: ['answer'],
        message: `\`answer\` ${JSON.stringify(record.answer)} is not one of the ${record.options.length} options; use an index 0–${record.options.length - 1} or a letter A–${last}`,
      });
      return z.NEVER;
    }
    return { ...record, answer: index };
  });

/** A multiple-choice record, `answer` normalised to a 0-based index. */
export type MultipleChoiceRecord = z.output<typeof MultipleChoiceRecordSchema>;

/** The letter of option `index` (`0 → "A"`). */
export function optionLetter(index: number): string {
  const letter = LETTERS[index];
  if (letter === undefined) throw new RangeError(`option index ${index} has no letter (0–25)`);
  return letter;
}

function letterIndex(answer: string): number | undefined {
  const match = /^\(?([A-Za-z])\)?$/.exec(answer.trim());
  if (match === null) return undefined;
  return LETTERS.indexOf((match[1] as string).toUpperCase());
}

/**
 * The plain prompt/completion form of a multiple-choice question: the question, one
 * `A. option` line per option, then `Answer:`; the completion is ` B` (a space and the letter).
 */
export function multipleChoicePrompt(example: {
  readonly question: string;
  readonly options: readonly string[];
  readonly answer: number;
}): { prompt: string; completion: string } {
  const lines = example.options.map((option, i) => `${optionLetter(i)}. ${option}`);
  return { prompt: `${example.question}\n${lines.join('\n')}\nAnswer:`, completion: ` ${optionLetter(example.answer)}` };
}
