import type { Rng } from '@lora/core';

/** English words for 0–15, index = value. */
export const NUMBER_WORDS = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
] as const;

const TEENS = ['sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

/** `2` → `"two"`, `22` → `"twenty-two"` for integers 0–99; other values as digits. */
export function numberToWord(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 99) return String(value);
  if (value < 16) return NUMBER_WORDS[value] as string;
  if (value < 20) return TEENS[value - 16] as string;
  const unit = value % 10;
  return `${TENS[Math.floor(value / 10)]}${unit === 0 ? '' : `-${NUMBER_WORDS[unit]}`}`;
}

/** `"two"` → 2, `"twenty two"` → 22 (0–99, case-insensitive); `undefined` for anything else. */
export function wordToNumber(word: string): number | undefined {
  const w = word.trim().toLowerCase().replace(/\s+/g, '-');
  for (let i = 0; i < 100; i++) if (numberToWord(i) === w) return i;
  return undefined;
}

/** QWERTY neighbours of each lowercase letter (same row and the rows above and below). */
export const KEYBOARD_NEIGHBOURS: Readonly<Record<string, string>> = {
  q: 'wa',
  w: 'qeas',
  e: 'wrds',
  r: 'etdf',
  t: 'ryfg',
  y: 'tugh',
  u: 'yihj',
  i: 'uojk',
  o: 'ipkl',
  p: 'ol',
  a: 'qwsz',
  s: 'awedxz',
  d: 'serfcx',
  f: 'drtgvc',
  g: 'ftyhbv',
  h: 'gyujnb',
  j: 'huikmn',
  k: 'jiolm',
  l: 'kop',
  z: 'asx',
  x: 'zsdc',
  c: 'xdfv',
  v: 'cfgb',
  b: 'vghn',
  n: 'bhjm',
  m: 'njk',
};

/** One typo applied by {@link addTypos}. */
export interface Typo {
  /** `substitute`: a letter replaced by a keyboard neighbour; `drop`: a letter removed. */
  readonly kind: 'substitute' | 'drop';
  /** The word as it was. */
  readonly word: string;
  /** The word as it became. */
  readonly typo: string;
}

const PROTECTED = new Set<string>([
  ...NUMBER_WORDS,
  ...TEENS,
  ...TENS.filter((t) => t !== ''),
  'off',
  'on',
  'auto',
  'mute',
  'unmute',
  'high',
  'low',
]);

/**
 * Adds `count` typos to `text`, each in a different word of at least 4 letters: a letter
 * replaced by a QWERTY neighbour, or a letter dropped (never the first letter). Digits,
 * number words (`two`, `eleven`), and words that decide the action (`on`, `off`, `auto`, `mute`,
 * `high`, `low`) are never touched, so the gold answer stays recoverable. Returns the text
 * unchanged with no typos when no word qualifies.
 */
export function addTypos(text: string, rng: Rng, count = 1): { text: string; typos: Typo[] } {
  const tokens = text.split(/(\s+)/);
  const candidates = tokens
    .map((t, i) => ({ t, i }))
    .filter(({ t }) => /^[a-z]{4,}[,.?!]?$/i.test(t) && !PROTECTED.has(t.toLowerCase().replace(/[,.?!]$/, '')));
  rng.shuffle(candidates);
  const typos: Typo[] = [];
  for (const { t, i } of candidates.slice(0, count)) {
    const word = t.replace(/[,.?!]$/, '');
    const tail = t.slice(word.length);
    const at = 1 + rng.nextInt(word.length - 1);
    const letter = (word[at] as string).toLowerCase();
    const neighbours = KEYBOARD_NEIGHBOURS[letter];
    let typo: string;
    let kind: Typo['kind'];
    if (rng.next() < 0.6 && neighbours !== undefined) {
      kind = 'substitute';
      typo = word.slice(0, at) + (neighbours[rng.nextInt(neighbours.length)] as string) + word.slice(at + 1);
    } else {
      kind = 'drop';
      typo = word.slice(0, at) + word.slice(at + 1);
    }
    tokens[i] = typo + tail;
    typos.push({ kind, word, typo });
  }
  return { text: tokens.join(''), typos };
}

/** Levenshtein distance between two strings (for tests and reports). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost));
    }
    prev = row;
  }
  return prev[b.length] as number;
}
