import { describe, expect, it } from 'vitest';
import { checkCall, scoreCalls, standardizeString, summarizeScores } from './score.js';
import { parseToolCalls } from './tool-calls.js';
import type { GoldCall } from './trace.js';

const gold: GoldCall = {
  name: 'calculate_triangle_area',
  arguments: { base: [10], height: [5], unit: ['units', ''], shape: [{ kind: ['right', ''], sides: [[3, 4]] }] },
};

describe('checkCall (BFCL rules)', () => {
  it('accepts any acceptable value, optional omissions, standardised strings and nested dicts', () => {
    expect(
      checkCall({ name: gold.name, arguments: { base: 10, height: 5, unit: 'Units', shape: { kind: 'Right', sides: [3, 4] } } }, gold)
        .valid,
    ).toBe(true);
    expect(checkCall({ name: gold.name, arguments: { base: 10.0, height: 5, shape: { sides: [3, 4] } } }, gold).valid).toBe(true);
    expect(standardizeString('April 1, 2024')).toBe(standardizeString('april 1 2024'));
  });

  it('rejects wrong names, values, types, missing and unexpected arguments', () => {
    const ok = { base: 10, height: 5, shape: { sides: [3, 4] } };
    expect(checkCall({ name: 'area', arguments: ok }, gold).errors[0]).toMatch(/function `area`/);
    expect(checkCall({ name: gold.name, arguments: { ...ok, base: 11 } }, gold).errors[0]).toMatch(/`base`/);
    expect(checkCall({ name: gold.name, arguments: { ...ok, base: '10' } }, gold).valid).toBe(false);
    expect(checkCall({ name: gold.name, arguments: { base: 10, shape: ok.shape } }, gold).errors).toEqual(['`height`: missing']);
    expect(checkCall({ name: gold.name, arguments: { ...ok, color: 'red' } }, gold).errors).toEqual(['`color`: unexpected argument']);
    expect(checkCall({ name: gold.name, arguments: { ...ok, shape: { sides: [4, 3] } } }, gold).valid).toBe(false);
    expect(checkCall({ name: gold.name, arguments: { ...ok, shape: { sides: [3, 4], extra: 1 } } }, gold).valid).toBe(false);
  });
});

describe('scoreCalls', () => {
  const a: GoldCall = { name: 'f', arguments: { x: [1] } };
  const b: GoldCall = { name: 'f', arguments: { x: [2] } };
  it('matches parallel calls in any order, one to one', () => {
    const meta = { id: 't', category: 'parallel' };
    expect(
      scoreCalls(
        [
          { name: 'f', arguments: { x: 2 } },
          { name: 'f', arguments: { x: 1 } },
        ],
        [a, b],
        meta,
      ).correct,
    ).toBe(true);
    const dup = scoreCalls(
      [
        { name: 'f', arguments: { x: 1 } },
        { name: 'f', arguments: { x: 1 } },
      ],
      [a, b],
      meta,
    );
    expect(dup.correct).toBe(false);
    expect(dup.calls.map((c) => c.matched)).toEqual([0, null]);
    expect(dup.extra).toBe(1);
    const extra = scoreCalls(
      [
        { name: 'f', arguments: { x: 1 } },
        { name: 'f', arguments: { x: 2 } },
        { name: 'g', arguments: {} },
      ],
      [a, b],
      meta,
    );
    expect(extra.correct).toBe(false);
    expect(summarizeScores([extra]).callPrecision).toBeCloseTo(2 / 3);
  });

  it('treats no call as correct only for a no-call gold', () => {
    expect(scoreCalls([], [], { id: 'i', category: 'irrelevance' }).correct).toBe(true);
    expect(scoreCalls([{ name: 'f', arguments: {} }], [], { id: 'i', category: 'irrelevance' }).correct).toBe(false);
    expect(scoreCalls([], [a], { id: 's', category: 'simple' }).calls[0]?.errors).toEqual(['no call was made']);
  });
});

describe('parseToolCalls', () => {
  const call = { name: 'math.factorial', arguments: { number: 5 } };
  it.each([
    ['<tool_call>\n{"name": "math.factorial", "arguments": {"number": 5}}\n</tool_call>', 'tool_call_tags'],
    ['<tool_call>{"name":"math.factorial","arguments":"{\\"number\\": 5}"}', 'tool_call_tags'],
    ['<|python_tag|>{"name": "math.factorial", "parameters": {"number": 5}}<|eom_id|>', 'python_tag'],
    ['{"name": "math.factorial", "parameters": {"number": 5}}', 'json'],
    ['```json\n[{"type":"function","function":{"name":"math.factorial","arguments":{"number":5}}}]\n```', 'json'],
    ['{"tool_calls":[{"function":{"name":"math.factorial","arguments":"{\\"number\\":5}"}}]}', 'json'],
    ['Sure, calling {"name":"math.factorial","arguments":{"number":5}} now.', 'embedded_json'],
  ])('reads %s', (text, format) => {
    const parsed = parseToolCalls(text);
    expect(parsed.calls).toEqual([call]);
    expect(parsed.format).toBe(format);
  });

  it('reads several calls and reports unreadable blocks', () => {
    const two = parseToolCalls(
      '<tool_call>{"name":"a","arguments":{}}</tool_call>\n<tool_call>{"name":"b","arguments":{"k":[1]}}</tool_call>',
    );
    expect(two.calls.map((c) => c.name)).toEqual(['a', 'b']);
    const llama = parseToolCalls('<|python_tag|>{"name":"a","parameters":{"s":"x;y"}}; {"name":"b","parameters":{}}');
    expect(llama.calls).toEqual([
      { name: 'a', arguments: { s: 'x;y' } },
      { name: 'b', arguments: {} },
    ]);
    const bad = parseToolCalls('<tool_call>{"name": </tool_call>');
    expect(bad.calls).toEqual([]);
    expect(bad.errors[0]).toMatch(/not JSON/);
    expect(parseToolCalls('The answer is 42.')).toEqual({ calls: [], format: 'none', errors: [] });
  });
});
