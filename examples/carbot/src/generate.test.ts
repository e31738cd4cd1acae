import { MessagesRecordSchema } from '@lora/data';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCarbotAnswer } from './aliases.js';
import { CARBOT_LABELS, CarbotActionSchema, carbotJsonSchema, formatAction } from './catalog.js';
import { generateCarbotExamples, type CarbotExample } from './generate.js';
import { TEMPLATES } from './templates.js';

let examples: CarbotExample[];
beforeAll(() => {
  examples = generateCarbotExamples({ n: 2000, seed: 42 });
});

describe('generateCarbotExamples', () => {
  it('is deterministic by seed', () => {
    const again = generateCarbotExamples({ n: 2000, seed: 42 });
    expect(again).toEqual(examples);
    const other = generateCarbotExamples({ n: 2000, seed: 43 });
    const same = other.filter((e, i) => e.messages[1]?.content === examples[i]?.messages[1]?.content).length;
    expect(same).toBeLessThan(100);
  });

  it('answers parse strictly and validate against the zod schema and the JSON Schema', () => {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    const validateJson = ajv.compile(carbotJsonSchema());
    for (const example of examples) {
      const answer = example.messages.at(-1)?.content ?? '';
      const parsed = parseCarbotAnswer(answer);
      expect(parsed.errors, `${example.id}: ${answer}`).toEqual([]);
      expect(parsed.action).toEqual({ name: example.intent, args: example.args });
      expect(CarbotActionSchema.safeParse(parsed.json).success).toBe(true);
      expect(validateJson(parsed.json), `${example.id}: ${JSON.stringify(validateJson.errors)}`).toBe(true);
      expect(answer).toBe(`<ACTION>${formatAction(parsed.action!)}</ACTION>\n<SAY>${parsed.say}</SAY>`);
      expect(parsed.say?.length).toBeGreaterThan(3);
    }
  });

  it('writes conversations in the @lora/data messages format, with or without a system message', () => {
    for (const example of examples.slice(0, 50)) {
      expect(MessagesRecordSchema.safeParse(example).success).toBe(true);
      expect(example.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
    }
    const bare = generateCarbotExamples({ n: 20, seed: 1, system: null });
    for (const example of bare) expect(example.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
  });

  it('covers every intent evenly and uses every template', () => {
    const perIntent = new Map<string, number>();
    for (const e of examples) perIntent.set(e.intent, (perIntent.get(e.intent) ?? 0) + 1);
    expect([...perIntent.keys()].sort()).toEqual([...CARBOT_LABELS].sort());
    for (const count of perIntent.values()) expect(count).toBe(2000 / 16);
    const used = new Set(examples.map((e) => e.template_id));
    const all = Object.values(TEMPLATES)
      .flat()
      .map((t) => t.id);
    expect(all.length).toBeGreaterThanOrEqual(100);
    expect(all.filter((id) => !used.has(id))).toEqual([]);
  });

  it('varies the requests: unique texts, typos, numbers as words, politeness, noise', () => {
    const texts = examples.map((e) => e.messages[1]?.content?.toLowerCase());
    expect(new Set(texts).size).toBe(examples.length);
    const share = (f: (e: CarbotExample) => boolean) => examples.filter(f).length / examples.length;
    expect(share((e) => e.has_typo)).toBeGreaterThan(0.15);
    expect(share((e) => e.has_typo)).toBeLessThan(0.35);
    expect(share((e) => e.numbers_as_words)).toBeGreaterThan(0.05);
    expect(share((e) => e.polite)).toBeGreaterThan(0.25);
    expect(share((e) => e.noise)).toBeGreaterThan(0.15);
    const words = examples.filter((e) => e.numbers_as_words);
    for (const e of words) expect(e.messages[1]?.content).not.toMatch(/\d/);
    const volume = examples.filter((e) => e.intent === 'car.media.set_volume' && e.numbers_as_words && !e.has_typo);
    expect(
      volume.some((e) =>
        /\b(eleven|twelve|thirteen|fourteen|fifteen|ten|nine|eight|seven|six|five|four|three|two|one|zero)\b/i.test(
          e.messages[1]?.content ?? '',
        ),
      ),
    ).toBe(true);
  });

  it('keeps the gold level in the user text when a number is written', () => {
    for (const e of examples) {
      const text = e.messages[1]?.content ?? '';
      const level = e.args.level;
      if (
        typeof level === 'number' &&
        /\{level\}/.test(TEMPLATES[e.intent].find((t) => t.id === e.template_id)?.text ?? '') &&
        !e.numbers_as_words
      ) {
        expect(text, e.id).toMatch(new RegExp(`\\b${level}\\b`));
      }
    }
  });

  it('rejects bad options', () => {
    expect(() => generateCarbotExamples({ n: 0, seed: 1 })).toThrow(/`n`/);
    expect(() => generateCarbotExamples({ n: 5, seed: 1, typoRate: 2 })).toThrow(/typoRate/);
  });
});

describe('catalog schemas', () => {
  const ajv = new Ajv2020({ strict: true });
  const validateJson = ajv.compile(carbotJsonSchema());
  const cases: [unknown, boolean][] = [
    [{ name: 'car.window.set_level', args: { target: 'all', level: 3 } }, true],
    [{ name: 'car.window.set_level', args: { target: 'rear', level: 3 } }, false],
    [{ name: 'car.window.set_level', args: { target: 'driver', level: 4 } }, false],
    [{ name: 'car.window.set_level', args: { target: 'driver', level: 1.5 } }, false],
    [{ name: 'car.window.set_level', args: { target: 'driver' } }, false],
    [{ name: 'car.window.switch', args: { target: 'rear', on: false, reason: 'child_lock' } }, true],
    [{ name: 'car.window.switch', args: { target: 'rear', on: false, reason: 'kids' } }, false],
    [{ name: 'car.media.set_volume', args: { level: 15 } }, true],
    [{ name: 'car.media.set_volume', args: { level: 16 } }, false],
    [{ name: 'car.media.set_volume', args: { level: 5, extra: 1 } }, false],
    [{ name: 'car.wipers.set', args: { mode: 'auto', level: 2 } }, true],
    [{ name: 'car.wipers.set', args: { mode: 'auto' } }, false],
    [{ name: 'car.wipers.set', args: { mode: 'off' } }, true],
    [{ name: 'car.wipers.set', args: { mode: 'off', level: 2 } }, false],
    [{ name: 'car.lights.set', args: { mode: 'auto', high_beam: true } }, true],
    [{ name: 'car.lights.set', args: { mode: 'auto' } }, false],
    [{ name: 'car.acc.set_headway_level', args: { level: 0 } }, false],
    [{ name: 'none', args: {} }, true],
    [{ name: 'none', args: { x: 1 } }, false],
    [{ name: 'car.fly', args: {} }, false],
    [{ name: 'car.media.set_mute', args: { on: true }, extra: 1 }, false],
  ];
  it.each(cases)('zod and JSON Schema agree on %j', (value, valid) => {
    expect(CarbotActionSchema.safeParse(value).success).toBe(valid);
    expect(validateJson(value)).toBe(valid);
  });

  it('is draft 2020-12 with an $id', () => {
    const schema = carbotJsonSchema();
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(typeof schema.$id).toBe('string');
  });
});
