import { InvalidArgumentError } from '@lora/core';
import type { ChatMessage } from '@lora/data';
import type { Gsm8kRow } from './data.js';

/** One few-shot block, as lm-evaluation-harness' `gsm8k` task: `Question: …\nAnswer: <CoT> #### N`. */
export function renderGsm8kShot(row: Gsm8kRow): string {
  return `Question: ${row.question}\nAnswer: ${row.answer}`;
}

/**
 * The few-shot prompt: the first `k` pool examples as blocks separated by a blank line, then
 * `Question: <q>\nAnswer:`. The model's continuation is the answer; stop at `\n\n` or `Question:`.
 */
export function renderGsm8kPrompt(question: string, pool: readonly Gsm8kRow[], k: number): string {
  if (!Number.isInteger(k) || k < 0 || k > pool.length) {
    throw new InvalidArgumentError({ argument: 'k', message: `must be an integer in 0..${pool.length} (the pool size), got ${k}` });
  }
  const shots = pool.slice(0, k).map(renderGsm8kShot);
  return [...shots, `Question: ${question}\nAnswer:`].join('\n\n');
}

/** Generation stops of the few-shot prompt (the harness' `until`). */
export const GSM8K_STOP = ['\n\n', 'Question:'] as const;

/** The SFT pair of one training problem: prompt as above, completion ` <answer>` (loss on it only). */
export function toGsm8kPromptCompletion(row: Gsm8kRow, pool: readonly Gsm8kRow[], k: number): { prompt: string; completion: string } {
  return { prompt: renderGsm8kPrompt(row.question, pool, k), completion: ` ${row.answer}` };
}

/**
 * The chat rendering: each shot is a user turn (the question) and an assistant turn (the worked
 * answer), then the problem; with `answer` the final assistant turn is included (training;
 * assistant-only masks train on assistant turns), without it the messages end at the user turn
 * (generation).
 */
export function toGsm8kMessages(
  row: Gsm8kRow,
  pool: readonly Gsm8kRow[],
  k: number,
  options: { includeAnswer: boolean; system?: string },
): ChatMessage[] {
  if (!Number.isInteger(k) || k < 0 || k > pool.length) {
    throw new InvalidArgumentError({ argument: 'k', message: `must be an integer in 0..${pool.length} (the pool size), got ${k}` });
  }
  const messages: ChatMessage[] = options.system === undefined ? [] : [{ role: 'system', content: options.system }];
  for (const shot of pool.slice(0, k)) messages.push({ role: 'user', content: shot.question }, { role: 'assistant', content: shot.answer });
  messages.push({ role: 'user', content: row.question });
  if (options.includeAnswer) messages.push({ role: 'assistant', content: row.answer });
  return messages;
}
