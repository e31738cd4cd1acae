/**
 * A chat message as chat templates render it (exported as `TemplateMessage`): looser than the
 * dataset `ChatMessage` — any role string, `content` a string, a list of parts
 * (`{type: 'text', text}` …) or null (an assistant message that only calls tools). Unknown keys
 * (e.g. `reasoning_content`) are kept and reach the template.
 */
export interface ChatMessage {
  role: string;
  content?: string | Record<string, unknown>[] | null | undefined;
  /** Tool calls of an assistant message (OpenAI / transformers shape). */
  tool_calls?:
    | Array<{
        type?: string | undefined;
        id?: string | undefined;
        /** The function called; `arguments` as JSON text or an already-parsed object. */
        function: { name: string; arguments: string | Record<string, unknown>; [key: string]: unknown };
        [key: string]: unknown;
      }>
    | undefined;
  tool_call_id?: string | undefined;
  name?: string | undefined;
  [key: string]: unknown;
}

/** A tool definition as chat templates expect it (JSON schema object): `{type: 'function', function: {name, description, parameters}}`, passed unchanged. */
export type Tool = Record<string, unknown>;

/** A tool call inside an assistant message (OpenAI / transformers shape). */
export type TemplateToolCall = NonNullable<ChatMessage['tool_calls']>[number];
