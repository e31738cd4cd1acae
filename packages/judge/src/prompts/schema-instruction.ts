import { z } from 'zod';
import type { JudgeMessage, JudgeResponseFormat } from '../model.js';

/** The instruction that carries the JSON Schema in the prompt, for judges without structured outputs. */
export function schemaInstruction(format: JudgeResponseFormat): string {
  return `Answer with one JSON object only, matching this JSON Schema:\n${JSON.stringify(z.toJSONSchema(format.schema))}`;
}

/** `messages` with {@link schemaInstruction} appended to the system message (or added as one). */
export function withSchemaInstruction(messages: readonly JudgeMessage[], format: JudgeResponseFormat): JudgeMessage[] {
  const instruction = schemaInstruction(format);
  const system = messages.findIndex((m) => m.role === 'system');
  if (system < 0) return [{ role: 'system', content: instruction }, ...messages];
  return messages.map((m, i) => (i === system ? { role: m.role, content: `${m.content}\n\n${instruction}` } : m));
}
