import { join } from 'node:path';
import { loadTokenizer } from '@lora/data';
import type { JudgeRequest } from '@lora/judge';
import { createJsonSchemaAcceptor, PairwiseVerdictSchema, SafetyVerdictSchema } from '@lora/judge/internal';
import { describe, expect, it } from 'vitest';
import { jsonLogitsProcessor, type VocabularyTexts, vocabularyTexts } from './constrained-decoding.js';

const assets = process.env.LORA_ASSETS_DIR;

/** A small vocabulary: id 0 is the end token (no text), then pieces and every single character the JSON needs. */
function vocabulary(): VocabularyTexts {
  const pieces = [
    '{"',
    'reason',
    '":',
    ' "',
    ' the',
    ' story',
    '"',
    '", "',
    'winner',
    'tie',
    'response_1',
    '"}',
    '\n',
    '\\',
    'safe',
    'hazards',
  ];
  const chars = [...new Set('{}[]":, abcdefghijklmnopqrstuvwxyz_0123456789'.split(''))];
  const texts = [undefined, ...pieces, ...chars];
  return { texts, maxChars: Math.max(...pieces.map((p) => p.length)) };
}

/** Greedy decoding over `vocab` with seeded pseudo-random logits (biased toward `favourite`), constrained by `processor`. */
function decode(
  vocab: VocabularyTexts,
  budget: number,
  favourite: string,
  schema: NonNullable<JudgeRequest['responseFormat']>['schema'] = PairwiseVerdictSchema,
) {
  const processor = jsonLogitsProcessor(createJsonSchemaAcceptor(schema), vocab, [0], { maxNewTokens: budget });
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const tokens: number[] = [];
  const fav = vocab.texts.indexOf(favourite);
  while (tokens.length < budget) {
    const logits = Float32Array.from(vocab.texts, () => random());
    logits[fav] = 10;
    processor.processLogits(logits, tokens, 0);
    let best = 0;
    for (let i = 1; i < logits.length; i++) if ((logits[i] as number) > (logits[best] as number)) best = i;
    expect(logits[best]).toBeGreaterThan(-Infinity);
    tokens.push(best);
    if (best === 0 || processor.isComplete(tokens)) break;
  }
  return { tokens, text: tokens.map((id) => vocab.texts[id] ?? '').join(''), processor };
}

describe('jsonLogitsProcessor', () => {
  it('keeps greedy decoding inside the schema and ends it when the JSON is complete', () => {
    const vocab = vocabulary();
    for (const budget of [16, 40, 200]) {
      const { text, tokens } = decode(vocab, budget, ' the');
      expect(tokens.length).toBeLessThanOrEqual(budget);
      expect(PairwiseVerdictSchema.parse(JSON.parse(text))).toBeTruthy();
      // The favourite fills the string until the budget closes it; below the shortest JSON's length
      // in characters (28), only tokens that bring the end closer are allowed.
      if (budget > 28) expect(text).toContain('the the');
      else expect(text).not.toContain('the');
    }
    const safety = decode(vocab, 60, 'z', SafetyVerdictSchema);
    expect(SafetyVerdictSchema.parse(JSON.parse(safety.text))).toBeTruthy();
  });

  it('allows the end token only once the JSON is complete, and then nothing else', () => {
    const vocab = vocabulary();
    const processor = jsonLogitsProcessor(createJsonSchemaAcceptor(PairwiseVerdictSchema), vocab, [0]);
    const ids = ['{"', 'reason', '":', ' "', ' the', '", "', 'winner', '":', '"', 'tie', '"}'].map((p) => vocab.texts.indexOf(p));
    for (let n = 0; n <= ids.length; n++) {
      const logits = new Float32Array(vocab.texts.length).fill(1);
      processor.processLogits(logits, ids.slice(0, n), 0);
      const allowed = [...logits.keys()].filter((i) => logits[i] !== -Infinity);
      if (n < ids.length) {
        expect(allowed).not.toContain(0);
        expect(allowed).toContain(ids[n]);
      } else {
        expect(allowed).toEqual([0]);
      }
    }
    expect(processor.stats.steps).toBe(ids.length + 1);
    expect(processor.stats.walks + processor.stats.cacheHits).toBe(ids.length); // the complete state needs no walk
    expect(() => processor.processLogits(new Float32Array(vocab.texts.length), [...ids, vocab.texts.indexOf('tie')], 0)).toThrow(
      /does not continue the JSON/,
    );
  });

  it.skipIf(assets === undefined)('vocabulary texts of stories260K rebuild the decoded text of any ids', async () => {
    const tokenizer = await loadTokenizer(join(assets as string, 'models', 'stories260K'), { vocabSize: 512 });
    const { texts } = vocabularyTexts(tokenizer);
    const ids = tokenizer.encode('Lily said {"reason": "a \\"big\\" cat"} héllo', { addSpecialTokens: false });
    const anchor = tokenizer.encode('a', { addSpecialTokens: false });
    expect(ids.map((id) => texts[id]).join('')).toBe(tokenizer.decode([...anchor, ...ids]).slice(tokenizer.decode(anchor).length));
    for (const special of tokenizer.specialTokens) expect(texts[special.id]).toBeUndefined();
    expect(texts.filter((t) => t?.includes('\uFFFD'))).toEqual([]);
  });
});
