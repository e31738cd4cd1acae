import { formatAction } from './catalog.js';
import { parseCarbotAnswer } from './aliases.js';

/**
 * `lora chat --postprocess` hook of CarBot: reads the reply with the lenient CarBot parser (first
 * ACTION block or JSON object, alias normalisation on, catalog schema) and returns the line to
 * print under it: `action: {"name":…,"args":…}` (plus what was repaired), or why no action could
 * be read.
 *
 * @example
 * ```sh
 * lora chat --model stories260K --chat-template stories --adapter runs/carbot-smoke/train \
 *   --postprocess examples/carbot/dist/chat-postprocess.js
 * ```
 */
export function postprocess(reply: string): string {
  const parsed = parseCarbotAnswer(reply, { mode: 'lenient' });
  if (parsed.action !== undefined) {
    const notes = parsed.repairs.length === 0 ? '' : `  (${parsed.repairs.join('; ')})`;
    return `action: ${formatAction(parsed.action)}${notes}`;
  }
  return `action: none parsed (${parsed.errors.join('; ')})`;
}
