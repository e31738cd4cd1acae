import { z } from 'zod';

/** A tool call inside an assistant message (OpenAI / transformers shape). */
export const ToolCallSchema = z
  .object({
    type: z.string().optional(),
    id: z.string().optional(),
    function: z.object({ name: z.string(), arguments: z.union([z.string(), z.record(z.string(), z.unknown())]) }).loose(),
  })
  .loose();

/**
 * A chat message. `content` is a string, a list of parts (`{type: 'text', text}` …) or null (an
 * assistant message that only calls tools). Unknown keys (e.g. `reasoning_content`) are kept and
 * reach the template.
 */
export const ChatMessageSchema = z
  .object({
    role: z.string().min(1),
    content: z.union([z.string(), z.array(z.record(z.string(), z.unknown())), z.null()]).optional(),
    tool_calls: z.array(ToolCallSchema).optional(),
    tool_call_id: z.string().optional(),
    name: z.string().optional(),
  })
  .loose();

/** A chat message (see {@link ChatMessageSchema}). */
export type ChatMessage = z.output<typeof ChatMessageSchema>;

/** A tool definition as chat templates expect it: `{type: 'function', function: {name, description, parameters}}`. */
export const ToolSchema = z.record(z.string(), z.unknown());

/** A tool definition (JSON schema object). */
export type Tool = z.output<typeof ToolSchema>;
