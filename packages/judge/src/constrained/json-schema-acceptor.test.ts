import { InvalidArgumentError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PairwiseVerdictSchema, ReferenceVerdictSchema, rubricScoreSchema, SafetyVerdictSchema } from '../prompts/schemas.js';
import { createJsonSchemaAcceptor, type JsonSchemaAcceptor } from './json-schema-acceptor.js';

/** Whether `text` is accepted as a prefix, and whether it is complete. */
function run(acceptor: JsonSchemaAcceptor, text: string): 'rejected' | 'prefix' | 'complete' {
  const state = acceptor.feedText(acceptor.initial, text);
  if (state === undefined) return 'rejected';
  return acceptor.isComplete(state) ? 'complete' : 'prefix';
}

describe('createJsonSchemaAcceptor', () => {
  const pairwise = createJsonSchemaAcceptor(PairwiseVerdictSchema);

  it('accepts compact JSON with optional single spaces, and what it accepts parses with the schema', () => {
    for (const text of [
      '{"reason":"a","winner":"tie"}',
      '{"reason": "b is better", "winner": "response_2"}',
      '{ "reason" : "x" , "winner" : "response_1" }',
      '{"reason": "", "winner": "tie"}',
    ]) {
      expect(run(pairwise, text)).toBe('complete');
      expect(PairwiseVerdictSchema.safeParse(JSON.parse(text)).success).toBe(true);
    }
  });

  it('rejects other orders, missing or extra properties, double spaces and text after the end', () => {
    expect(run(pairwise, '{"winner"')).toBe('rejected');
    expect(run(pairwise, '{"reason": "a"}')).toBe('rejected');
    expect(run(pairwise, '{"reason": "a", "winner": "tie", ')).toBe('rejected');
    expect(run(pairwise, '{"reason":  "a"')).toBe('rejected');
    expect(run(pairwise, '{"reason": "a", "winner": "tie"} ')).toBe('rejected');
    expect(run(pairwise, '\n{')).toBe('rejected');
    expect(run(pairwise, '{"reason": "a",\n')).toBe('rejected');
    expect(run(pairwise, '')).toBe('prefix');
  });

  it('walks enum prefixes and accepts only whole values', () => {
    const head = '{"reason": "r", "winner": ';
    expect(run(pairwise, `${head}"response_`)).toBe('prefix');
    expect(run(pairwise, `${head}"response_3`)).toBe('rejected');
    expect(run(pairwise, `${head}"response"`)).toBe('rejected');
    expect(run(pairwise, `${head}"ti"`)).toBe('rejected');
    expect(run(pairwise, `${head}tie`)).toBe('rejected');
    expect(run(createJsonSchemaAcceptor(ReferenceVerdictSchema), '{"reason":"r","verdict":"partially_correct"}')).toBe('complete');
  });

  it('keeps integers inside [minimum, maximum], without leading zeros', () => {
    const score = createJsonSchemaAcceptor(rubricScoreSchema(1, 10));
    const head = '{"reason": "r", "score": ';
    for (const n of ['1', '5', '10']) expect(run(score, `${head}${n}}`)).toBe('complete');
    expect(run(score, `${head}1`)).toBe('prefix'); // 1 or 10
    expect(run(score, `${head}11`)).toBe('rejected');
    expect(run(score, `${head}0`)).toBe('rejected');
    expect(run(score, `${head}01`)).toBe('rejected');
    expect(run(score, `${head}-`)).toBe('rejected');
    expect(run(score, `${head}2 }`)).toBe('complete');
    expect(run(score, `${head}}`)).toBe('rejected');
    const signed = createJsonSchemaAcceptor(z.object({ n: z.number().int().min(-12).max(3) }));
    for (const n of ['-12', '-1', '0', '3']) expect(run(signed, `{"n":${n}}`)).toBe('complete');
    for (const n of ['-13', '-0', '4', '30', '-2 0']) expect(run(signed, `{"n":${n}}`)).toBe('rejected');
    expect(run(signed, '{"n":-1')).toBe('prefix'); // -1, -10, -11, -12
  });

  it('accepts the escapes \\" \\\\ \\n only, and no raw control characters', () => {
    const head = '{"reason": "';
    const ok = `${head}say \\"hi\\" \\\\ then\\nbye", "winner": "tie"}`;
    expect(run(pairwise, ok)).toBe('complete');
    expect(JSON.parse(ok).reason).toBe('say "hi" \\ then\nbye');
    expect(run(pairwise, `${head}\\t`)).toBe('rejected');
    expect(run(pairwise, `${head}\\u0041`)).toBe('rejected');
    expect(run(pairwise, `${head}a\nb`)).toBe('rejected');
    expect(run(pairwise, `${head}a\tb`)).toBe('rejected');
    expect(run(pairwise, `${head}héllo ✓`)).toBe('prefix');
  });

  it('caps string length, then only the closing quote is accepted', () => {
    const short = createJsonSchemaAcceptor(PairwiseVerdictSchema, { maxStringLength: 5 });
    expect(run(short, '{"reason":"abcde')).toBe('prefix');
    expect(run(short, '{"reason":"abcdef')).toBe('rejected');
    expect(run(short, '{"reason":"abcd\\n"')).toBe('prefix');
    expect(run(short, '{"reason":"abcde\\')).toBe('rejected');
    expect(run(short, '{"reason":"abcde","winner":"tie"}')).toBe('complete');
  });

  it('handles booleans and arrays of enums (at most one of each value)', () => {
    const safety = createJsonSchemaAcceptor(SafetyVerdictSchema);
    expect(run(safety, '{"reason": "fine", "safe": true, "hazards": []}')).toBe('complete');
    expect(run(safety, '{"reason": "bad", "safe": false, "hazards": ["vcr", "cse"]}')).toBe('complete');
    expect(run(safety, '{"reason":"bad","safe":false,"hazards":[ "vcr" ,"cse" ]}')).toBe('complete');
    expect(run(safety, '{"reason": "x", "safe": yes')).toBe('rejected');
    expect(run(safety, '{"reason": "x", "safe": true, "hazards": ["xyz"')).toBe('rejected');
    expect(run(safety, '{"reason": "x", "safe": true, "hazards": ["vcr",]')).toBe('rejected');
    expect(run(safety, '{"reason": "x", "safe": true, "hazards": [,')).toBe('rejected');
    const twelve = JSON.stringify(Array(12).fill('vcr'));
    expect(run(safety, `{"reason":"x","safe":true,"hazards":${twelve}}`)).toBe('complete');
    expect(run(safety, `{"reason":"x","safe":true,"hazards":${twelve.slice(0, -1)},`)).toBe('rejected');
  });

  it('is persistent: a state can be fed different continuations', () => {
    const state = pairwise.feedText(pairwise.initial, '{"reason": "a", "winner": "');
    expect(state).toBeDefined();
    const s = state as NonNullable<typeof state>;
    expect(pairwise.isComplete(pairwise.feedText(s, 'tie"}') as typeof s)).toBe(true);
    expect(pairwise.feedText(s, 'response_1"}')).toBeDefined();
    expect(pairwise.feed(s, 'x')).toBeUndefined();
  });

  it('keys ignore string lengths far from the cap', () => {
    const short = createJsonSchemaAcceptor(PairwiseVerdictSchema, { maxStringLength: 20 });
    const at = (text: string) => short.key(short.feedText(short.initial, text) as NonNullable<ReturnType<typeof short.feedText>>, 4);
    expect(at('{"reason": "ab')).toBe(at('{"reason": "abcdefgh'));
    expect(at('{"reason": "abcdefghijklmnop')).not.toBe(at('{"reason": "abcdefghijklmnopq'));
    expect(at('{"reason": "ab')).not.toBe(at('{"reason": "ab\\'));
  });

  it('refuses schemas outside the subset, naming the path', () => {
    const refuse = (schema: z.ZodType, pattern: RegExp) => {
      expect(() => createJsonSchemaAcceptor(schema)).toThrow(InvalidArgumentError);
      expect(() => createJsonSchemaAcceptor(schema)).toThrow(pattern);
    };
    refuse(z.object({ a: z.string().optional() }), /optional property at #\/properties\/a/);
    refuse(z.object({ a: z.number() }), /type "number" at #\/properties\/a/);
    refuse(z.object({ a: z.string().regex(/x/) }), /pattern or format at #\/properties\/a/);
    refuse(z.string(), /object at the root/);
    refuse(z.object({ a: z.string() }).passthrough(), /additionalProperties/);
  });

  it('minRemaining is the length of the shortest completion, and never above maxMinRemaining', () => {
    const safety = createJsonSchemaAcceptor(SafetyVerdictSchema);
    const score = createJsonSchemaAcceptor(rubricScoreSchema(10, 99));
    const cases: Array<[JsonSchemaAcceptor, string, string]> = [
      [pairwise, '', '{"reason":"","winner":"tie"}'],
      [pairwise, '{"reason": "ab', '","winner":"tie"}'],
      [pairwise, '{"reason": "ab\\', 'n","winner":"tie"}'],
      [pairwise, '{"reason": "ab", "winner": "res', 'ponse_1"}'],
      [pairwise, '{"reason": "ab", "winner"', ':"tie"}'],
      [safety, '{"reason":"x","safe":', 'true,"hazards":[]}'],
      [safety, '{"reason":"x","safe":false,"hazards":["vcr",', '"vcr"]}'],
      [score, '{"reason":"x","score":', '10}'],
      [score, '{"reason":"x","score":9', '9}'],
      [score, '{"reason":"x","score":42', '}'],
    ];
    for (const [acceptor, prefix, completion] of cases) {
      const state = acceptor.feedText(acceptor.initial, prefix);
      expect(state, prefix).toBeDefined();
      const s = state as NonNullable<typeof state>;
      expect(acceptor.minRemaining(s), prefix).toBe(completion.length);
      expect(acceptor.isComplete(acceptor.feedText(s, completion) as typeof s), prefix + completion).toBe(true);
      expect(acceptor.minRemaining(s)).toBeLessThanOrEqual(acceptor.maxMinRemaining);
    }
    // Along a whole text, every state's bound holds and the complete state needs nothing.
    const text = '{"reason": "a \\"b\\"", "safe": false, "hazards": ["sxc", "hte"]}';
    for (let i = 0; i <= text.length; i++) {
      const s = safety.feedText(safety.initial, text.slice(0, i)) as NonNullable<ReturnType<typeof safety.feedText>>;
      expect(safety.minRemaining(s)).toBeLessThanOrEqual(safety.maxMinRemaining);
      expect(safety.minRemaining(s)).toBeLessThanOrEqual(text.length - i);
    }
    expect(safety.minRemaining(safety.feedText(safety.initial, text) as NonNullable<ReturnType<typeof safety.feedText>>)).toBe(0);
  });
});
