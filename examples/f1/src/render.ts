import type { MultipleChoiceRecord } from '@lora/data';
import { optionLetter } from '@lora/data/internal';
import type { F1Question } from './questions.js';

/** The prompt part of the SFT rendering: question, one `A) …` line per option, then `Answer:`. */
export function renderF1Prompt(question: Pick<F1Question, 'question' | 'options'>): string {
  const lines = question.options.map((option, i) => `${optionLetter(i)}) ${option}`);
  return `Question: ${question.question}\n${lines.join('\n')}\nAnswer:`;
}

/**
 * The SFT text of a question:
 * `Question: …\nA) …\nB) …\nC) …\nD) …\nAnswer: X`.
 *
 * @example
 * ```ts
 * renderF1Text(q); // "Question: Who won the 2023 Bahrain Grand Prix?\nA) …\nAnswer: C"
 * ```
 */
export function renderF1Text(question: Pick<F1Question, 'question' | 'options' | 'answer'>): string {
  return `${renderF1Prompt(question)} ${optionLetter(question.answer)}`;
}

/** The same text as a prompt/completion pair (loss on ` X` only). */
export function toF1PromptCompletion(question: F1Question): { prompt: string; completion: string; id: string; category: string } {
  return {
    prompt: renderF1Prompt(question),
    completion: ` ${optionLetter(question.answer)}`,
    id: question.id,
    category: question.category,
  };
}

/**
 * The multiple-choice record the evaluator scores by log-probability of each option
 * (`MultipleChoiceRecordSchema` of `@lora/data`), with the question id, category and season kept
 * as metadata fields.
 */
export function toMultipleChoiceRecord(question: F1Question): MultipleChoiceRecord & { id: string; category: string; season?: number } {
  return {
    question: question.question,
    options: [...question.options],
    answer: question.answer,
    id: question.id,
    category: question.category,
    ...(question.season === undefined ? {} : { season: question.season }),
  };
}
