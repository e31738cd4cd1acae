// Type test, checked by `tsc --noEmit` (strict): the documented `collate(rows, { padId: tokenizer.padTokenId })`
// compiles with every tokenizer type, whose `padTokenId` is `number | undefined`.
import { expectTypeOf } from 'vitest';
import type { Tokenizer } from '../tokenizers/tokenizer.js';
import type { TokenizedExample } from '../transforms/tokenized-example.js';
import { padSequences } from '../transforms/pad.js';
import type { Batch } from './batch.js';
import { type CollateOptions, collate, collatePacked } from './collate.js';

declare const tokenizer: Tokenizer;
declare const rows: readonly TokenizedExample[];

expectTypeOf(tokenizer.padTokenId).toEqualTypeOf<number | undefined>();
expectTypeOf(collate(rows, { padId: tokenizer.padTokenId })).toEqualTypeOf<Batch>();
expectTypeOf(collate(rows, { padId: tokenizer.padTokenId, side: 'left' })).toEqualTypeOf<Batch>();
expectTypeOf(collatePacked([], { padId: tokenizer.padTokenId })).toEqualTypeOf<Batch>();
expectTypeOf(padSequences([], { padId: tokenizer.padTokenId }).shape).toEqualTypeOf<readonly [number, number]>();
expectTypeOf<CollateOptions['padId']>().toEqualTypeOf<number | null | undefined>();
// @ts-expect-error a pad id is still required (not an optional key)
collate(rows, {});
// @ts-expect-error a string is no pad id
collate(rows, { padId: '<pad>' });
