import { z } from 'zod';

/** Roles a chat message may have. */
export const ChatRoleSchema = z.enum(['system', 'user', 'assistant', 'tool']);

/** A role of a {@link ChatMessage}. */
export type ChatRole = z.output<typeof ChatRoleSchema>;

/** A function call made by the assistant (OpenAI / Hugging Face layout). */
export const ToolCallSchema = z.looseObject({
  id: z.string().optional(),
  type: z.literal('function').optional(),
  function: z.looseObject({
    name: z.string().min(1),
    /** JSON text or an already-parsed object; chat templates accept either. */
    arguments: z.union([z.string(), z.record(z.string(), z.unknown())]),
  }),
});

/** A function call made by the assistant. */
export type ToolCall = z.output<typeof ToolCallSchema>;

/**
 * One chat message in the Hugging Face `messages` layout. Unknown keys (for example
 * `reasoning_content`) are kept, because chat templates may read them. `content` may be absent
 * or null only on an assistant message that has `tool_calls`.
 */
export const ChatMessageSchema = z
  .looseObject({
    role: ChatRoleSchema,
    content: z.string().nullable().optional(),
    tool_calls: z.array(ToolCallSchema).optional(),
    name: z.string().optional(),
    tool_call_id: z.string().optional(),
  })
  .superRefine((m, ctx) => {
    if (typeof m.content !== 'string' && !(m.role === 'assistant' && m.tool_calls !== undefined && m.tool_calls.length > 0)) {
      ctx.addIssue({
        code: 'custom',
        path: ['content'],
        message: `a ${m.role} message needs a string \`content\` (only an assistant message with \`tool_calls\` may omit it)`,
      });
    }
    if (m.tool_calls !== undefined && m.role !== 'assistant') {
      ctx.addIssue({ code: 'custom', path: ['tool_calls'], message: `only assistant messages may have \`tool_calls\`, not ${m.role}` });
    }
  });

/** One chat message (`role`, `content`, optional `tool_calls`, `name`, `tool_call_id`). */
export type ChatMessage = z.output<typeof ChatMessageSchema>;

/** A tool definition offered to the model (a JSON-schema function description); kept as given. */
export const ToolDefinitionSchema = z.record(z.string(), z.unknown());

/** A tool definition, passed to the chat template unchanged. */
export type ToolDefinition = z.output<typeof ToolDefinitionSchema>;

/**
 * Most messages one conversation record may hold. Assistant masks render every prefix of the
 * conversation, so encoding time grows faster than the square of the message count: 1,000 short
 * messages take ~16 s on 2 cores, 3,000 over 2 minutes. Real fine-tuning conversations hold tens.
 */
export const MAX_MESSAGES_PER_RECORD = 1000;

/** A conversation record: `{ messages: [...], tools?: [...] }` (other keys are kept). */
export const MessagesRecordSchema = z.looseObject({
  messages: z
    .array(ChatMessageSchema)
    .min(1, 'a conversation needs at least one message')
    .max(MAX_MESSAGES_PER_RECORD, {
      error: (issue) =>
        `${(issue.input as unknown[]).length} messages, over the limit of ${MAX_MESSAGES_PER_RECORD} per record (MAX_MESSAGES_PER_RECORD); split the conversation`,
    }),
  tools: z.array(ToolDefinitionSchema).optional(),
});

/** A conversation record as read from a file. */
export type MessagesRecord = z.output<typeof MessagesRecordSchema>;
