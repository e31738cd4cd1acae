import { z } from 'zod';

/** A prompt/completion record: `{ prompt, completion }`; training uses only the completion tokens. */
export const PromptCompletionRecordSchema = z.looseObject({
  prompt: z.string(),
  completion: z.string(),
});

/** A prompt/completion record as read from a file. */
export type PromptCompletionRecord = z.output<typeof PromptCompletionRecordSchema>;

/** A plain-text record: `{ text }`; every token is trained. */
export const TextRecordSchema = z.looseObject({
  text: z.string(),
});

/** A plain-text record as read from a file. */
export type TextRecord = z.output<typeof TextRecordSchema>;
