import { FileFormatError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { detectFormat, exampleSchema, toExample } from './example.js';
import { ChatMessageSchema } from './messages.js';
import { multipleChoicePrompt, optionLetter } from './multiple-choice.js';

describe('formats', () => {
  it('detects each format from its keys', () => {
    expect(detectFormat({ messages: [] })).toBe('messages');
    expect(detectFormat({ prompt: 'p', completion: 'c' })).toBe('prompt-completion');
    expect(detectFormat({ question: 'q', options: ['a', 'b'], answer: 0 })).toBe('mc');
    expect(detectFormat({ text: 't' })).toBe('text');
    expect(detectFormat({ prompt: 'only' })).toBeUndefined();
    expect(detectFormat([1])).toBeUndefined();
    expect(detectFormat('text')).toBeUndefined();
  });

  it('converts messages with tools and tool calls, keeping extra keys as metadata', () => {
    const record = {
      id: 7,
      intent: 'weather',
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'rain in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }],
        },
        { role: 'tool', name: 'get_weather', tool_call_id: 'c1', content: '{"rain": true}' },
        { role: 'assistant', content: 'Yes.', reasoning_content: 'tool said so' },
      ],
    };
    const ex = toExample(record);
    expect(ex.format).toBe('messages');
    if (ex.format !== 'messages') return;
    expect(ex.metadata).toEqual({ id: 7, intent: 'weather' });
    expect(ex.tools?.length).toBe(1);
    expect(ex.messages[4]).toEqual({ role: 'assistant', content: 'Yes.', reasoning_content: 'tool said so' });
  });

  it('rejects bad messages naming the field', () => {
    const bad = (messages: unknown): string => {
      try {
        toExample({ messages }, 'messages', { file: 'chats.jsonl', line: 3 });
      } catch (error) {
        expect(FileFormatError.isInstance(error)).toBe(true);
        return `${(error as FileFormatError).field}`;
      }
      throw new Error('expected a failure');
    };
    expect(bad([{ role: 'robot', content: 'x' }])).toBe('messages[0].role');
    expect(bad([{ role: 'user' }])).toBe('messages[0].content');
    expect(bad([{ role: 'user', content: 'x', tool_calls: [{ function: { name: 'f', arguments: '{}' } }] }])).toBe(
      'messages[0].tool_calls',
    );
    expect(bad([])).toBe('messages');
    expect(ChatMessageSchema.safeParse({ role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: '{}' } }] }).success).toBe(
      true,
    );
  });

  it('normalises multiple-choice answers to an index', () => {
    const mc = (answer: unknown): unknown => {
      const r = exampleSchema('mc').safeParse({ question: 'q?', options: ['a', 'b', 'c'], answer });
      return r.success ? r.data.answer : `error at ${r.error.issues[0]?.path.join('.')}`;
    };
    expect([mc(0), mc(2), mc('B'), mc('c'), mc('(A)')]).toEqual([0, 2, 1, 2, 0]);
    expect([mc(3), mc('D'), mc('AB'), mc(-1), mc(1.5)]).toEqual(Array(5).fill('error at answer'));
    expect(exampleSchema('mc').safeParse({ question: 'q', options: ['only'], answer: 0 }).success).toBe(false);
    expect([optionLetter(0), optionLetter(25)]).toEqual(['A', 'Z']);
    expect(multipleChoicePrompt({ question: 'q?', options: ['x', 'y'], answer: 1 })).toEqual({
      prompt: 'q?\nA. x\nB. y\nAnswer:',
      completion: ' B',
    });
  });

  it('auto schema: converts each format and explains undetectable records', () => {
    const schema = exampleSchema();
    expect(schema.parse({ prompt: 'p', completion: 'c', id: 1 })).toEqual({
      format: 'prompt-completion',
      prompt: 'p',
      completion: 'c',
      metadata: { id: 1 },
    });
    expect(schema.parse({ text: 'hello' })).toEqual({ format: 'text', text: 'hello', metadata: {} });
    const wrongField = schema.safeParse({ prompt: 'p', completion: 3 });
    expect(wrongField.success ? [] : wrongField.error.issues[0]?.path).toEqual(['completion']);
    const unknown = schema.safeParse({ instruction: 'x', output: 'y' });
    expect(unknown.success ? '' : unknown.error.issues[0]?.message).toMatch(/cannot tell the record format/);
  });
});
