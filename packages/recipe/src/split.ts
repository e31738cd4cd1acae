import { FileFormatError } from '@lora/core';
import {
  type Batch,
  type Example,
  type TokenizedExample,
  type Tokenizer,
  collate,
  exampleEncoder,
  formatReadReport,
  readDataset,
} from '@lora/data';
import { collatePacked, packSequences, truncateExamples, exampleSchema } from '@lora/data/internal';
import type { CausalLM } from '@lora/models';
import { evaluateLoss } from '@lora/train';
import type { z } from 'zod';
import { recipeChatTemplate } from './prepare.js';
import type { Recipe } from './recipe.js';

/** Counts of one split. */
export interface SplitReport {
  file: string;
  read: number;
  kept: number;
  skipped: number;
  /** Records whose bytes were not valid UTF-8 (read with U+FFFD replacements). */
  invalidUtf8: number;
  truncated: number;
  withoutTrainedTokens: number;
  tokens: number;
  trainedTokens: number;
  batches: number;
}

/** The example encoder a recipe's data asks for: its chat template, trained-token mask and BOS rule. */
export async function recipeEncoder(recipe: Recipe, tokenizer: Tokenizer): Promise<(e: Example) => TokenizedExample> {
  const chatTemplate = await recipeChatTemplate(recipe);
  return exampleEncoder(tokenizer, {
    mask: recipe.data.mask,
    ...(chatTemplate === undefined ? {} : { chatTemplate }),
    ...(recipe.data.addBos === undefined ? {} : { addBos: recipe.data.addBos }),
  });
}

/** The padding id of collated batches: the tokenizer's pad token, else its first EOS, else 0. */
export function padTokenId(tokenizer: Tokenizer): number {
  return tokenizer.padTokenId ?? tokenizer.eosTokenIds[0] ?? 0;
}

/**
 * Reads, validates and encodes one split of a recipe's data as training does: records checked
 * against the recipe's format (a bad one fails at file:line, or is counted in `skip` mode), each
 * encoded with trained-token masks, token ids checked against the vocabulary, truncated, and the
 * examples without trained tokens dropped. Also returns the split's counts.
 *
 * @param encode - the encoder of {@link recipeEncoder}.
 * @param limit - keep only the first N records.
 */
export async function encodeSplit(
  file: string,
  recipe: Recipe,
  encode: (e: Example) => TokenizedExample,
  limit: number | undefined,
  log: (line: string) => void,
  vocabSize: number,
): Promise<{ examples: TokenizedExample[]; report: Omit<SplitReport, 'batches'> }> {
  const format = recipe.data.format;
  const schema = format === 'auto' ? exampleSchema('auto') : (exampleSchema(format) as z.ZodType<Example>);
  const reader = readDataset(file, { schema, mode: recipe.data.mode });
  const encoded: TokenizedExample[] = [];
  for await (const { line, value } of reader.entries()) {
    if (limit !== undefined && encoded.length >= limit) break;
    let example: TokenizedExample;
    try {
      example = encode(value as Example);
    } catch (error) {
      throw new FileFormatError({ file, line, message: `cannot encode this record: ${(error as Error).message}`, cause: error });
    }
    // An id past the embedding table is not an error in tfjs' gather: it reads zeros and trains on garbage.
    const bad = example.inputIds.find((id) => id < 0 || id >= vocabSize);
    if (bad !== undefined) {
      throw new FileFormatError({
        file,
        line,
        field: 'inputIds',
        message: `the tokenizer produced token id ${bad}, outside the model's vocabulary (vocab_size ${vocabSize}): the tokenizer does not belong to this model (check \`tokenizer\` in the recipe).`,
      });
    }
    encoded.push(example);
  }
  if (reader.report.read === 0) {
    throw new FileFormatError({ file, message: 'the dataset is empty: it holds no record.' });
  }
  if (reader.report.kept === 0) {
    throw new FileFormatError({
      file,
      message: `no valid record: all ${reader.report.read} were skipped.\n${formatReadReport(reader.report)}`,
    });
  }
  if (reader.report.skipped.length > 0 || reader.report.invalidUtf8 > 0) log(formatReadReport(reader.report));
  const { examples, stats } = truncateExamples(encoded, { maxLength: recipe.data.maxLength, side: recipe.data.truncation });
  let tokens = 0;
  let trainedTokens = 0;
  for (const ex of examples) {
    tokens += ex.inputIds.length;
    for (const m of ex.labelsMask) trainedTokens += m === 0 ? 0 : 1;
  }
  return {
    examples: examples.filter((ex) => ex.labelsMask.some((m) => m !== 0)),
    report: {
      file,
      read: reader.report.read,
      kept: reader.report.kept,
      skipped: reader.report.skipped.length,
      invalidUtf8: reader.report.invalidUtf8,
      truncated: stats.truncated,
      withoutTrainedTokens: stats.withoutTrainedTokens,
      tokens,
      trainedTokens,
    },
  };
}

/** Groups examples into collated micro-batches (packed rows or right-padded examples). */
export function batchExamples(examples: readonly TokenizedExample[], recipe: Recipe, padId: number): Batch[] {
  const size = recipe.data.batchSize;
  const batches: Batch[] = [];
  if (recipe.data.packing) {
    const { sequences } = packSequences(examples, { maxLength: recipe.data.maxLength });
    for (let i = 0; i < sequences.length; i += size) batches.push(collatePacked(sequences.slice(i, i + size), { padId }));
  } else {
    for (let i = 0; i < examples.length; i += size) batches.push(collate(examples.slice(i, i + size), { padId, side: 'right' }));
  }
  return batches;
}

/**
 * Mean token loss of `model` on the recipe's validation split, encoded and batched exactly as
 * training encodes it (same template, mask, truncation and batching); undefined without a
 * validation file or without trained tokens in it.
 *
 * @example
 * ```ts
 * const base = await peft.disableAdapter(() => validationLoss(recipe, tokenizer, peft));
 * ```
 */
export async function validationLoss(recipe: Recipe, tokenizer: Tokenizer, model: CausalLM): Promise<number | undefined> {
  const file = recipe.data.validation;
  if (file === undefined) return undefined;
  const encode = await recipeEncoder(recipe, tokenizer);
  const { examples } = await encodeSplit(file, recipe, encode, undefined, () => {}, model.config.vocabSize);
  const batches = batchExamples(examples, recipe, padTokenId(tokenizer));
  return batches.length === 0 ? undefined : (await evaluateLoss(model, batches)).loss;
}
