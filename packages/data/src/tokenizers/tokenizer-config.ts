import { z } from 'zod';
import type { TokenizerSettings } from './tokenizer.js';

/** A special token in `tokenizer_config.json`: a string, or an `AddedToken` object. */
const TokenValueSchema = z.union([z.string(), z.object({ content: z.string() }).loose(), z.null()]);

/**
 * The fields of `tokenizer_config.json` `@lora` reads. Unknown keys are kept (the file is handed to
 * the tokenizer library as is), but only these are typed.
 */
export const TokenizerConfigSchema = z
  .object({
    chat_template: z.union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))]).nullish(),
    bos_token: TokenValueSchema.optional(),
    eos_token: TokenValueSchema.optional(),
    pad_token: TokenValueSchema.optional(),
    unk_token: TokenValueSchema.optional(),
    add_bos_token: z.boolean().nullish(),
    add_eos_token: z.boolean().nullish(),
    model_max_length: z.number().nullish(),
    padding_side: z.enum(['left', 'right']).nullish(),
    tokenizer_class: z.string().nullish(),
    clean_up_tokenization_spaces: z.boolean().nullish(),
  })
  .loose();

/** Parsed `tokenizer_config.json`. */
export type TokenizerConfigJson = z.output<typeof TokenizerConfigSchema>;

/** The part of `generation_config.json` `@lora` reads. */
export const GenerationConfigSchema = z.object({ eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullish() }).loose();

/** `chat_template.json` as transformers saves it next to the tokenizer. */
export const ChatTemplateJsonSchema = z.object({
  chat_template: z.union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))]),
});

/** An added token in `tokenizer.json`. */
const AddedTokenSchema = z.object({ id: z.number().int().nonnegative(), content: z.string(), special: z.boolean().optional() }).loose();

/**
 * The outline of `tokenizer.json` checked before it reaches the tokenizer library (which validates
 * the components itself): a `model` with a `type`, and the added tokens.
 */
export const TokenizerJsonSchema = z
  .object({
    model: z.object({ type: z.string().optional() }).loose(),
    added_tokens: z.array(AddedTokenSchema).default([]),
    normalizer: z.unknown().optional(),
    pre_tokenizer: z.unknown().optional(),
    post_processor: z.unknown().optional(),
    decoder: z.unknown().optional(),
  })
  .loose();

/** Parsed `tokenizer.json` outline. */
export type TokenizerJson = z.output<typeof TokenizerJsonSchema>;

function tokenText(value: z.output<typeof TokenValueSchema> | undefined): string | undefined {
  if (value == null) return undefined;
  return typeof value === 'string' ? value : value.content;
}

/** Normalizes `chat_template` (string or list of named templates) into a name → source record. */
export function chatTemplatesOf(value: string | readonly { name: string; template: string }[] | null | undefined): Record<string, string> {
  if (value == null) return {};
  if (typeof value === 'string') return { default: value };
  return Object.fromEntries(value.map((t) => [t.name, t.template]));
}

/**
 * Maps parsed `tokenizer_config.json` (+ optional `generation_config.json` eos ids and a chat
 * template found in `chat_template.jinja` / `chat_template.json`) to {@link TokenizerSettings}.
 */
export function settingsFromConfig(
  config: TokenizerConfigJson,
  extra: { generationEosTokenIds?: readonly number[]; chatTemplates?: Record<string, string> } = {},
): TokenizerSettings {
  return Object.freeze({
    chatTemplates: Object.freeze({ ...(extra.chatTemplates ?? {}), ...chatTemplatesOf(config.chat_template) }),
    bosToken: tokenText(config.bos_token),
    eosToken: tokenText(config.eos_token),
    padToken: tokenText(config.pad_token),
    unkToken: tokenText(config.unk_token),
    addBosToken: config.add_bos_token ?? undefined,
    addEosToken: config.add_eos_token ?? undefined,
    modelMaxLength: config.model_max_length ?? undefined,
    paddingSide: config.padding_side ?? undefined,
    tokenizerClass: config.tokenizer_class ?? undefined,
    generationEosTokenIds: extra.generationEosTokenIds,
  });
}
