/** A chat message as test rows carry it. */
export interface ChatMessageLike {
  readonly role: string;
  readonly content?: unknown;
}

/**
 * Turns test rows into prompt/reference rows for generation: a chat whose last message is the
 * assistant's answer becomes the conversation before it, rendered with `render` (a chat template
 * with the generation prompt) and marked `addSpecialTokens: false` (the template wrote its special
 * tokens, so encoding adds none, as `apply_chat_template` does), and that answer becomes the
 * `reference`; `{prompt, completion}` rows use the completion as the reference. Rows without `id`
 * get their 1-based position.
 *
 * @example
 * ```ts
 * const rows = promptRowsFromChats(testRows, (m) => renderChat(tokenizer, m, { addGenerationPrompt: true }));
 * ```
 */
export function promptRowsFromChats(
  rows: readonly Record<string, unknown>[],
  render: (messages: readonly ChatMessageLike[]) => string,
): Record<string, unknown>[] {
  return rows.map((row, i) => {
    const id = row.id ?? String(i + 1);
    const messages = row.messages as ChatMessageLike[] | undefined;
    if (messages !== undefined && row.prompt === undefined) {
      const last = messages.at(-1);
      const answered = last?.role === 'assistant';
      const context = answered ? messages.slice(0, -1) : messages;
      return {
        addSpecialTokens: false,
        ...row,
        id,
        prompt: render(context),
        ...(row.reference === undefined && answered ? { reference: last?.content ?? '' } : {}),
      };
    }
    if (row.reference === undefined && typeof row.completion === 'string') return { ...row, id, reference: row.completion };
    return { ...row, id };
  });
}
