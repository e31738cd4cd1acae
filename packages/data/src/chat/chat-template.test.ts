import { describe, expect, it } from 'vitest';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { ChatTemplate, resolveChatTemplate } from './chat-template.js';

const withTemplates = (chatTemplates: Record<string, string>) => ({ settings: { chatTemplates } }) as unknown as Tokenizer;

describe('ChatTemplate', () => {
  it('exposes raise_exception, strftime_now, extra variables and Python strip(chars)', () => {
    const t = new ChatTemplate(
      "{% if messages|length == 0 %}{{ raise_exception('empty!') }}{% endif %}" +
        "{{ strftime_now('%Y') }}|{{ flag }}|{{ messages[0].content.strip('x') }}|{{ messages[0].content.lstrip('x') }}|{{ ' a '.strip() }}",
    );
    expect(() => t.render([])).toThrow(/empty!/);
    expect(t.render([{ role: 'user', content: 'xxhixx' }], { extra: { flag: 7 } }).text).toBe(`${new Date().getFullYear()}|7|hi|hixx|a`);
  });

  it('tracks {% generation %} blocks without changing the text', () => {
    const src = '{%- for m in messages %}{{ m.role }}: {% generation %}{{ m.content }}{% endgeneration %}\n{% endfor %}';
    // trim_blocks removes the newline after `{% endgeneration %}`, as in Jinja2.
    const plain = new ChatTemplate(src.replace(/{% (end)?generation %}/g, '{% if true %}{% endif %}'));
    const t = new ChatTemplate(src);
    const msgs = [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'bc' },
    ];
    const r = t.render(msgs);
    expect(t.hasGenerationBlocks).toBe(true);
    expect(r.text).toBe(plain.render(msgs).text);
    expect(r.generationSpans.map(([s, e]) => r.text.slice(s, e))).toEqual(['a', 'bc']);
  });

  it('picks named templates like transformers', () => {
    const tok = withTemplates({ default: 'D', tool_use: 'T' });
    expect(resolveChatTemplate(tok)).toBe('D');
    expect(resolveChatTemplate(tok, { hasTools: true })).toBe('T');
    expect(resolveChatTemplate(tok, { chatTemplate: 'tool_use' })).toBe('T');
    expect(resolveChatTemplate(tok, { chatTemplate: '{{ x }}' })).toBe('{{ x }}');
    expect(() => resolveChatTemplate(withTemplates({ a: 'A' }))).toThrow(/"a"/);
  });
});
