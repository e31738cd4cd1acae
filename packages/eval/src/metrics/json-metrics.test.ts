import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { canonicalJson, extractJson, jsonValidRate } from './json.js';
import { aliasNormalizer } from './normalize.js';
import { compileSchema, schemaValidRate } from './schema-valid.js';
import { canonicalCall, jsonExactMatch, slotF1, toToolCall } from './tool-call.js';

describe('extractJson', () => {
  it('strict needs the whole output to be JSON; lenient finds the first balanced object or array', () => {
    expect(extractJson(' {"a": 1}\n', 'strict')).toMatchObject({ ok: true, value: { a: 1 } });
    expect(extractJson('Sure: {"a": 1}', 'strict').ok).toBe(false);
    expect(extractJson('Sure: {"a": "}{"} and [1]', 'lenient')).toMatchObject({ ok: true, value: { a: '}{' } });
    expect(extractJson('broken {"a": } then [1, 2]', 'lenient')).toMatchObject({ ok: true, value: [1, 2] });
    expect(extractJson('{"a": {"b": [1, {"c": "\\""}]}} tail', 'lenient')).toMatchObject({
      ok: true,
      value: { a: { b: [1, { c: '"' }] } },
    });
    expect(extractJson('no json here {', 'lenient').ok).toBe(false);
  });
  it('looks inside a tag first', () => {
    const text = 'thinking {"x": 0} <ACTION>call {"name": "go", "arguments": {}}</ACTION>';
    expect(extractJson(text, 'lenient', { tag: 'ACTION' })).toMatchObject({ ok: true, value: { name: 'go' } });
    expect(extractJson(text, 'lenient')).toMatchObject({ ok: true, value: { x: 0 } });
    expect(extractJson('{"x": 0}', 'lenient', { tag: 'ACTION' })).toMatchObject({ ok: true, value: { x: 0 } });
  });
  it('reports strict and lenient rates separately', () => {
    expect(jsonValidRate(['{"a":1}', 'x {"a":1}', 'nope', '[1]'])).toEqual({ strict: 0.5, lenient: 0.75, count: 4 });
  });
});

describe('canonical JSON and tool calls', () => {
  it('ignores key order, whitespace and number spelling', () => {
    expect(canonicalJson(JSON.parse('{"b": [1.0, 2e0], "a": {"y": 1, "x": "s"}}'))).toBe('{"a":{"x":"s","y":1},"b":[1,2]}');
  });
  it('reads the usual call shapes, OpenAI string arguments included', () => {
    const a = { name: 'f', arguments: { x: 1 } };
    expect(toToolCall({ function: { name: 'f', arguments: '{"x": 1}' }, id: 'call_1' })).toEqual(a);
    expect(toToolCall({ name: 'f', args: { x: 1 } })).toEqual(a);
    expect(toToolCall({ tool: 'f', tool_input: { x: 1 } })).toEqual(a);
    expect(canonicalCall({ tool_calls: [{ name: 'f', parameters: { x: 1 } }] })).toBe(canonicalCall(a));
  });
  it('exact match is order- and format-insensitive but value-sensitive', () => {
    const ref = { name: 'set_temperature', arguments: { zone: 'driver', value: 21 } };
    expect(
      jsonExactMatch('<ACTION>{"arguments": {"value": 21.0, "zone": "driver"}, "name": "set_temperature"}</ACTION>', ref, {
        tag: 'ACTION',
      }),
    ).toBe(1);
    expect(jsonExactMatch('{"name": "set_temperature", "arguments": {"zone": "driver", "value": 22}}', JSON.stringify(ref))).toBe(0);
    expect(jsonExactMatch('I would set it to 21', ref)).toBe(0);
    expect(
      jsonExactMatch('x {"name": "set_temperature", "arguments": {"zone": "driver", "value": 21}}', ref, { extraction: 'strict' }),
    ).toBe(0);
  });
  it('the normalisation hook maps aliases before comparing', () => {
    const normalize = aliasNormalizer({ set_temp: 'set_temperature', driver_side: 'driver' });
    const ref = { name: 'set_temperature', arguments: { zone: 'driver', value: 21 } };
    const pred = '{"name": "set_temp", "arguments": {"zone": "Driver_Side", "value": 21}}';
    expect(jsonExactMatch(pred, ref)).toBe(0);
    expect(jsonExactMatch(pred, ref, { normalize })).toBe(1);
  });
});

describe('slot F1', () => {
  it('pools key-values for micro and averages slot names for macro', () => {
    const r = slotF1([
      { prediction: '{"name": "f", "arguments": {"a": 1, "b": 2}}', reference: { name: 'f', arguments: { a: 1, b: 3 } } },
      { prediction: '{"name": "f", "arguments": {"a": 1}}', reference: { name: 'f', arguments: { a: 1, c: { d: true } } } },
      { prediction: 'garbage', reference: { name: 'f', arguments: { a: 5 } } },
    ]);
    // a: tp 2, predicted 2, actual 3; b: tp 0, predicted 1, actual 1; c.d: tp 0, predicted 0, actual 1.
    expect(r.perSlot.a).toMatchObject({ tp: 2, predicted: 2, actual: 3 });
    expect(r.perSlot['c.d']).toMatchObject({ tp: 0, predicted: 0, actual: 1, f1: 0 });
    expect(r.micro.precision).toBeCloseTo(2 / 3, 12);
    expect(r.micro.recall).toBeCloseTo(2 / 5, 12);
    expect(r.micro.f1).toBeCloseTo((2 * (2 / 3) * (2 / 5)) / (2 / 3 + 2 / 5), 12);
    expect(r.macro.f1).toBeCloseTo((r.perSlot.a?.f1 ?? 0) / 3, 12);
  });
});

describe('schema-valid rate', () => {
  const jsonSchema = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    required: ['name', 'arguments'],
    properties: {
      name: { enum: ['go', 'stop'] },
      arguments: { type: 'object' },
      tags: { type: 'array', prefixItems: [{ type: 'string' }], items: false },
    },
  };
  it('checks JSON Schema draft 2020-12 with ajv', () => {
    const r = schemaValidRate(
      ['{"name": "go", "arguments": {}}', '{"name": "fly", "arguments": {}}', 'nope', 'ok: {"name": "stop", "arguments": {}}'],
      jsonSchema,
    );
    expect(r.valid).toBe(2);
    expect(r.rate).toBe(0.5);
    expect(r.errors[1]).toContain('/name');
    expect(r.errors[2]).toBe('no JSON found');
    expect(schemaValidRate(['ok: {"name": "stop", "arguments": {}}'], jsonSchema, { extraction: 'strict' }).rate).toBe(0);
    // prefixItems + items: false is draft 2020-12 tuple syntax.
    expect(
      schemaValidRate(['{"name": "go", "arguments": {}, "tags": ["a"]}', '{"name": "go", "arguments": {}, "tags": ["a", "b"]}'], jsonSchema)
        .rate,
    ).toBe(0.5);
  });
  it('checks zod schemas', () => {
    const schema = z.object({ name: z.enum(['go', 'stop']), arguments: z.record(z.string(), z.unknown()) });
    expect(schemaValidRate(['{"name": "go", "arguments": {}}', '{"name": 1}'], schema).rate).toBe(0.5);
    expect(compileSchema(schema)({ name: 'x' })).toContain('name');
  });
  it('rejects an invalid JSON Schema with a clear error', () => {
    expect(() => compileSchema({ type: 'nonsense' })).toThrow(/not a valid JSON Schema/);
  });
});
