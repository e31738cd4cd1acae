import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../tokenizers/load-tokenizer.js';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import { readFixture, referenceTokenizerDir, type ReferenceTokenizerName } from '../test/reference-tokenizers.js';
import { ChatTemplate } from './chat-template.js';
import { encodeChat, encodePromptCompletion, renderChat } from './encode-chat.js';
import { assistantSpansByPrefix } from './masks.js';
import type { ChatMessage, Tool } from './messages.js';
import { STORIES_CHAT_TEMPLATE } from './templates.js';

interface ChatCase {
  conversation: string;
  options: Record<string, unknown>;
  tools: boolean;
  error?: string;
  rendered?: string;
  renderedPrompt?: string;
  spans?: { assistant: [number, number][]; completion: [number, number][] };
  ids?: number[];
  masks?: { assistant: string; completion: string };
  hfAssistantMask?: string;
}
interface ChatFixture {
  tokenizer: ReferenceTokenizerName;
  template: string | null;
  conversations: Record<string, ChatMessage[]>;
  tool: Tool;
  cases: ChatCase[];
}

const bits = (m: Uint8Array) => Array.from(m).join('');
const tokenizers = new Map<string, Promise<Tokenizer>>();
const tokenizer = (name: ReferenceTokenizerName) => {
  let t = tokenizers.get(name);
  if (t === undefined) tokenizers.set(name, (t = loadTokenizer(referenceTokenizerDir(name))));
  return t;
};

// Fixtures: tools/parity/data/make_chat_fixtures.py (transformers 5.23 apply_chat_template).
describe.each(['gemma3', 'qwen3', 'llama3_2', 'stories260k', 'chatml-generation'])('%s chat template', (name) => {
  const fx = readFixture<ChatFixture>(`chat/${name}.json`);
  const label = (c: ChatCase) => `${c.conversation} ${JSON.stringify(c.options)}`;

  it.each(fx.cases.map((c) => [label(c), c] as const))('renders %s like apply_chat_template', async (_l, c) => {
    const tok = await tokenizer(fx.tokenizer);
    const messages = fx.conversations[c.conversation] ?? [];
    const options = {
      ...(fx.template === null ? {} : { chatTemplate: fx.template }),
      ...(c.tools ? { tools: [fx.tool] } : {}),
      templateVariables: c.options,
    };
    if (c.error !== undefined) {
      expect(() => renderChat(tok, messages, options)).toThrow(c.error);
      return;
    }
    expect(renderChat(tok, messages, options)).toBe(c.rendered);
    expect(renderChat(tok, messages.slice(0, -1), { ...options, addGenerationPrompt: true })).toBe(c.renderedPrompt);
  });

  it.each(fx.cases.filter((c) => c.error === undefined).map((c) => [label(c), c] as const))(
    'masks %s like the Python reference',
    async (_l, c) => {
      const tok = await tokenizer(fx.tokenizer);
      const messages = fx.conversations[c.conversation] ?? [];
      const options = {
        ...(fx.template === null ? {} : { chatTemplate: fx.template }),
        ...(c.tools ? { tools: [fx.tool] } : {}),
        templateVariables: c.options,
      };
      const template = new ChatTemplate(fx.template ?? tok.settings.chatTemplates['default'] ?? '');
      const render = (msgs: readonly ChatMessage[], gen: boolean) =>
        template.render(msgs, {
          addGenerationPrompt: gen,
          ...(c.tools ? { tools: [fx.tool] } : {}),
          specialTokens: {
            ...(tok.settings.bosToken ? { bos_token: tok.settings.bosToken } : {}),
            ...(tok.settings.eosToken ? { eos_token: tok.settings.eosToken } : {}),
          },
          extra: c.options,
        }).text;
      const assistantIdx = messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
      expect(assistantSpansByPrefix(render, messages, assistantIdx)).toEqual(c.spans?.assistant);

      const a = encodeChat(tok, messages, { ...options, mask: 'assistant' });
      expect(Array.from(a.inputIds)).toEqual(c.ids);
      expect(bits(a.labelsMask)).toBe(c.hfAssistantMask ?? c.masks?.assistant);
      if (c.hfAssistantMask === undefined) {
        const done = encodeChat(tok, messages, { ...options, mask: 'completion' });
        expect(bits(done.labelsMask)).toBe(c.masks?.completion);
      }
      expect(bits(encodeChat(tok, messages, { ...options, mask: 'all' }).labelsMask)).toBe('1'.repeat(a.inputIds.length));
    },
  );

  if (name === 'stories260k') {
    it('is the STORIES_CHAT_TEMPLATE the fixture used', () => {
      expect(fx.template).toBe(STORIES_CHAT_TEMPLATE);
    });
  }
});

describe('encodePromptCompletion', () => {
  it('tokenizes plain prompt and completion separately, training the completion and EOS', async () => {
    const tok = await tokenizer('llama3_2');
    const { inputIds, labelsMask } = encodePromptCompletion(tok, { prompt: 'Q: 2+2?\nA:', completion: ' 4' });
    const prompt = tok.encode('Q: 2+2?\nA:');
    const completion = tok.encode(' 4', { addSpecialTokens: false });
    expect(prompt[0]).toBe(tok.bosTokenId);
    expect(Array.from(inputIds)).toEqual([...prompt, ...completion, tok.eosTokenIds[0]]);
    expect(Array.from(labelsMask)).toEqual([...prompt.map(() => 0), ...completion.map(() => 1), 1]);
  });

  it('trains only the completion messages of a conversational pair', async () => {
    const tok = await tokenizer('qwen3');
    const prompt: ChatMessage[] = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'Bye' },
    ];
    const completion: ChatMessage[] = [{ role: 'assistant', content: 'Goodbye.' }];
    const pc = encodePromptCompletion(tok, { prompt, completion });
    const all = encodeChat(tok, [...prompt, ...completion], { mask: 'assistant' });
    const last = encodeChat(tok, [...prompt, ...completion], { mask: 'completion' });
    expect(bits(pc.labelsMask)).toBe(bits(last.labelsMask));
    expect(pc.labelsMask.reduce((a, b) => a + b, 0)).toBeLessThan(all.labelsMask.reduce((a, b) => a + b, 0));
    expect(
      tok.decode(
        Array.from(pc.inputIds).filter((_, i) => pc.labelsMask[i] === 1),
        { skipSpecialTokens: false },
      ),
    ).toBe('<think>\n\n</think>\n\nGoodbye.<|im_end|>\n');
  });

  it('rejects a missing chat template with the fix', async () => {
    const tok = await tokenizer('llama3');
    const noTemplate = { ...tok, settings: { ...tok.settings, chatTemplates: {} } } as Tokenizer;
    expect(() => renderChat(noTemplate, [{ role: 'user', content: 'x' }])).toThrow(/STORIES_CHAT_TEMPLATE/);
  });
});
