import { Rng } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { addTypos, editDistance, KEYBOARD_NEIGHBOURS, numberToWord, wordToNumber } from './text-noise.js';

describe('addTypos', () => {
  const sentence = 'please set the passenger window to level 2 and volume eleven, thanks';

  it('changes 1–2 words by one edit each, never digits or number words', () => {
    for (let seed = 0; seed < 300; seed++) {
      const count = 1 + (seed % 2);
      const { text, typos } = addTypos(sentence, new Rng(seed), count);
      expect(typos).toHaveLength(count);
      expect(text).not.toBe(sentence);
      expect(editDistance(text, sentence)).toBeLessThanOrEqual(count);
      expect(text).toMatch(/\blevel 2\b|\blvel 2\b|\blevl 2\b|\bleve 2\b|\b\w{4,5} 2\b/);
      expect(text).toContain('eleven');
      expect(text.split(/\s+/)).toHaveLength(sentence.split(/\s+/).length);
      for (const typo of typos) {
        expect(typo.word.length).toBeGreaterThanOrEqual(4);
        expect(typo.typo[0]).toBe(typo.word[0]);
        if (typo.kind === 'drop') expect(typo.typo.length).toBe(typo.word.length - 1);
        else {
          const at = [...typo.word].findIndex((c, i) => c !== typo.typo[i]);
          expect(KEYBOARD_NEIGHBOURS[typo.word[at] as string]).toContain(typo.typo[at]);
        }
      }
    }
  });

  it('is deterministic by seed and uses both kinds of typo', () => {
    expect(addTypos(sentence, new Rng(7), 2)).toEqual(addTypos(sentence, new Rng(7), 2));
    const kinds = new Set(Array.from({ length: 50 }, (_, s) => addTypos(sentence, new Rng(s)).typos[0]?.kind));
    expect(kinds).toEqual(new Set(['substitute', 'drop']));
  });

  it('leaves text without eligible words alone', () => {
    expect(addTypos('vol 5 on', new Rng(1), 2)).toEqual({ text: 'vol 5 on', typos: [] });
  });
});

describe('number words', () => {
  it('round-trips 0–99', () => {
    for (let i = 0; i < 100; i++) expect(wordToNumber(numberToWord(i))).toBe(i);
    expect(numberToWord(11)).toBe('eleven');
    expect(numberToWord(22)).toBe('twenty-two');
    expect(wordToNumber('Twenty two')).toBe(22);
    expect(wordToNumber('lots')).toBeUndefined();
  });
});
