/**
 * GPT-2's reversible byte ↔ character table (`bytes_to_unicode` in transformers / tokenizers'
 * ByteLevel): printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 upward, so
 * every byte sequence spells as visible characters.
 */
function buildByteAlphabet(): readonly string[] {
  const table: string[] = new Array<string>(256);
  const direct = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(direct(b) ? b : 256 + next++);
  return Object.freeze(table);
}

/** Character spelling each byte 0..255 in a byte-level BPE vocabulary. @internal */
export const BYTE_ALPHABET: readonly string[] = buildByteAlphabet();

const alphabetSet: ReadonlySet<string> = new Set(BYTE_ALPHABET);

/** True when every character of `token` is in {@link BYTE_ALPHABET}. @internal */
export function isByteLevelSpelled(token: string): boolean {
  for (const ch of token) if (!alphabetSet.has(ch)) return false;
  return true;
}

const encoder = new TextEncoder();

/**
 * A token as a byte-level vocabulary spells it: unchanged when already in the byte alphabet,
 * else its UTF-8 bytes respelled (llama.cpp stores some tokens, e.g. CJK, as raw text). @internal
 */
export function byteLevelSpelling(token: string): string {
  if (isByteLevelSpelled(token)) return token;
  let out = '';
  for (const b of encoder.encode(token)) out += BYTE_ALPHABET[b] as string;
  return out;
}
