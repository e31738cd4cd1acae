import { describe, expect, it } from 'vitest';
import { promptRowsFromChats } from './chat-rows.js';

describe('promptRowsFromChats', () => {
  const render = (m: readonly { role: string; content?: unknown }[]) =>
    m.map((x) => `${x.role}: ${String(x.content)}`).join('\n') + '\nassistant:';

  it('splits an answered chat into rendered context and reference', () => {
    const [row] = promptRowsFromChats(
      [
        {
          id: 'a',
          messages: [
            { role: 'user', content: 'hi' },
            { role: 'assistant', content: 'hello' },
          ],
        },
      ],
      render,
    );
    expect(row).toMatchObject({ id: 'a', prompt: 'user: hi\nassistant:', reference: 'hello', addSpecialTokens: false });
  });

  it('keeps an explicit reference, uses completions, and numbers rows without id', () => {
    const rows = promptRowsFromChats(
      [
        { messages: [{ role: 'user', content: 'q' }], reference: 'r' },
        { prompt: 'p', completion: 'c' },
      ],
      render,
    );
    expect(rows[0]).toMatchObject({ id: '1', prompt: 'user: q\nassistant:', reference: 'r' });
    expect(rows[1]).toMatchObject({ id: '2', prompt: 'p', reference: 'c' });
    // Plain prompts keep the tokenizer's rule.
    expect(rows[1]?.addSpecialTokens).toBeUndefined();
  });
});
