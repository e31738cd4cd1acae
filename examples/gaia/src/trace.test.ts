import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scoreCompletion } from './score.js';
import { readGaiaTraces } from './trace.js';

const dir = mkdtempSync(join(tmpdir(), 'gaia-traces-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather now',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const trace = {
  id: 'u1',
  tools: [weather],
  messages: [
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
    { role: 'tool', tool_call_id: 'c1', name: 'get_weather', content: '{"temp": 21}' },
    { role: 'assistant', content: 'It is 21 °C in Paris.' },
    { role: 'user', content: 'And Rome?' },
    { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Rome' } } }] },
  ],
};

describe("readGaiaTraces (users' own JSONL)", () => {
  it('reads multi-turn traces with tool results and derives gold from the last assistant turn', () => {
    const file = join(dir, 'ok.jsonl');
    const withGold = {
      ...trace,
      id: 'u2',
      category: 'weather',
      gold: { calls: [{ name: 'get_weather', arguments: { city: ['Rome', 'Roma'] } }] },
    };
    writeFileSync(file, `${JSON.stringify(trace)}\n\n${JSON.stringify(withGold)}\n`);
    const [a, b] = readGaiaTraces(file);
    expect(a?.gold.calls).toEqual([{ name: 'get_weather', arguments: { city: ['Rome'] } }]);
    expect(a?.category).toBe('user');
    expect(b?.category).toBe('weather');
    expect(scoreCompletion('<tool_call>{"name":"get_weather","arguments":{"city":"roma"}}</tool_call>', b!).correct).toBe(true);
    expect(scoreCompletion('<tool_call>{"name":"get_weather","arguments":{"city":"roma"}}</tool_call>', a!).correct).toBe(false);
  });

  it.each([
    [
      {
        ...trace,
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'user', content: 'hi?' },
        ],
      },
      /assistant message/,
    ],
    [{ ...trace, tools: [] }, /not in `tools`/],
    [
      {
        ...trace,
        messages: [
          trace.messages[0],
          { role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: 'city=Paris' } }] },
        ],
      },
      /JSON object/,
    ],
    [{ ...trace, id: undefined }, /`id`/],
  ])('rejects invalid traces naming file:line and field (%#)', (bad, message) => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, `${JSON.stringify(trace)}\n${JSON.stringify(bad)}\n`);
    expect(() => readGaiaTraces(file)).toThrow(/bad\.jsonl:2/);
    expect(() => readGaiaTraces(file)).toThrow(message);
  });

  it('rejects duplicate ids and bad JSON', () => {
    const file = join(dir, 'dup.jsonl');
    writeFileSync(file, `${JSON.stringify(trace)}\n${JSON.stringify(trace)}\n`);
    expect(() => readGaiaTraces(file)).toThrow(/duplicate id/);
    writeFileSync(file, '{"id": \n');
    expect(() => readGaiaTraces(file)).toThrow(/invalid JSON/);
  });
});
