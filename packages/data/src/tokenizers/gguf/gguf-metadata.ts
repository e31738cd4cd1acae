import { type GgufValue, validate } from '@lora/core/internal';
import { z } from 'zod';

/** GGUF metadata: key (e.g. `tokenizer.ggml.tokens`) → value, as `openGguf(path).metadata` holds it. */
export type GgufMetadata = Readonly<Record<string, GgufValue>>;

/** llama.cpp's token types (`tokenizer.ggml.token_type`), the numbers of SentencePiece's piece types. */
export const GGUF_TOKEN_TYPE = Object.freeze({
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const);

const tokenId = z.union([z.number().int().nonnegative(), z.bigint().nonnegative()]).transform((v) => Number(v));

/**
 * The `tokenizer.*` keys of GGUF metadata that describe a tokenizer (llama.cpp's gguf-py names),
 * plus `general.architecture`. Unknown keys are ignored.
 */
export const GgufTokenizerMetadataSchema = z
  .object({
    'general.architecture': z.string().optional(),
    'tokenizer.ggml.model': z.string(),
    'tokenizer.ggml.pre': z.string().optional(),
    'tokenizer.ggml.tokens': z.array(z.string()).min(1),
    'tokenizer.ggml.scores': z.array(z.number()).optional(),
    'tokenizer.ggml.token_type': z.array(z.number().int()).optional(),
    'tokenizer.ggml.merges': z.array(z.string()).optional(),
    'tokenizer.ggml.bos_token_id': tokenId.optional(),
    'tokenizer.ggml.eos_token_id': tokenId.optional(),
    'tokenizer.ggml.unknown_token_id': tokenId.optional(),
    'tokenizer.ggml.padding_token_id': tokenId.optional(),
    'tokenizer.ggml.eot_token_id': tokenId.optional(),
    'tokenizer.ggml.eom_token_id': tokenId.optional(),
    'tokenizer.ggml.add_bos_token': z.boolean().optional(),
    'tokenizer.ggml.add_eos_token': z.boolean().optional(),
    'tokenizer.ggml.add_space_prefix': z.boolean().optional(),
    'tokenizer.chat_template': z.string().optional(),
  })
  .loose()
  .superRefine((m, ctx) => {
    const n = m['tokenizer.ggml.tokens'].length;
    for (const key of ['tokenizer.ggml.scores', 'tokenizer.ggml.token_type'] as const) {
      const list = m[key];
      if (list !== undefined && list.length !== n) {
        ctx.addIssue({ code: 'custom', path: [key], message: `has ${list.length} entries for ${n} tokens` });
      }
    }
    for (const key of [
      'tokenizer.ggml.bos_token_id',
      'tokenizer.ggml.eos_token_id',
      'tokenizer.ggml.unknown_token_id',
      'tokenizer.ggml.padding_token_id',
      'tokenizer.ggml.eot_token_id',
      'tokenizer.ggml.eom_token_id',
    ] as const) {
      const id = m[key];
      if (id !== undefined && id >= n) ctx.addIssue({ code: 'custom', path: [key], message: `id ${id} is outside the ${n} tokens` });
    }
  });

/** Validated tokenizer metadata (see {@link GgufTokenizerMetadataSchema}). */
export type GgufTokenizerMetadata = z.output<typeof GgufTokenizerMetadataSchema>;

/**
 * Validates the tokenizer part of GGUF metadata.
 *
 * @param metadata - the whole metadata record of a GGUF file.
 * @param file - the file name for error messages.
 * @throws FileFormatError naming the file and the first bad key.
 * @internal
 */
export function parseGgufTokenizerMetadata(metadata: GgufMetadata, file: string): GgufTokenizerMetadata {
  return validate(metadata, GgufTokenizerMetadataSchema, { file });
}
