import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AssetNotFoundError, FileFormatError, parseJson } from '@lora/core';
import { HfTokenizer } from './hf-tokenizer.js';
import { Llama2cTokenizerAdapter } from './llama2c-adapter.js';
import type { Tokenizer } from './tokenizer.js';
import {
  ChatTemplateJsonSchema,
  GenerationConfigSchema,
  TokenizerConfigSchema,
  TokenizerJsonSchema,
  chatTemplatesOf,
  settingsFromConfig,
} from './tokenizer-config.js';

/** Options of {@link loadTokenizer}. */
export interface LoadTokenizerOptions {
  /** llama2.c only: the model's `vocab_size`, checked against the file. */
  vocabSize?: number;
  /** Extra end-of-sequence ids, appended to the ones the files give. */
  extraEosTokenIds?: readonly number[];
}

const LLAMA2C_FILES = ['tokenizer.bin', 'tok512.bin'];

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Loads the tokenizer in a model folder, from local files only (never the network):
 * - `tokenizer.json` + `tokenizer_config.json` (+ `generation_config.json` for extra EOS ids,
 *   `chat_template.jinja` / `chat_template.json` when the config has no `chat_template`) → an
 *   {@link HfTokenizer} whose ids equal Python `tokenizers`;
 * - a llama2.c `tokenizer.bin` / `tok*.bin` (stories260K) → a `Llama2cTokenizerAdapter`.
 *
 * @param dir - the folder holding the files.
 * @throws AssetNotFoundError when the folder has no tokenizer; FileFormatError for malformed files.
 *
 * @example
 * ```ts
 * const tok = await loadTokenizer('/models/Qwen3-0.6B');
 * tok.encode('Hello'); // [9707]
 * ```
 */
export async function loadTokenizer(dir: string, options: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  let entries: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
    entries = await readdir(dir);
  } catch (error) {
    throw new AssetNotFoundError({ asset: dir, searched: [dir], hint: 'pass the folder that holds tokenizer.json (or tokenizer.bin)', cause: error });
  }
  if (entries.includes('tokenizer.json')) return loadHfTokenizer(dir, options);
  const bin = LLAMA2C_FILES.find((f) => entries.includes(f)) ?? entries.find((f) => /^tok\d+\.bin$/.test(f));
  if (bin !== undefined) {
    return Llama2cTokenizerAdapter.fromFile(join(dir, bin), options.vocabSize === undefined ? {} : { vocabSize: options.vocabSize });
  }
  throw new AssetNotFoundError({
    asset: `tokenizer in ${dir}`,
    searched: ['tokenizer.json', ...LLAMA2C_FILES, 'tok<N>.bin'].map((f) => join(dir, f)),
    hint: 'copy tokenizer.json and tokenizer_config.json from the model repository into this folder',
  });
}

async function loadHfTokenizer(dir: string, options: LoadTokenizerOptions): Promise<Tokenizer> {
  const jsonPath = join(dir, 'tokenizer.json');
  const configPath = join(dir, 'tokenizer_config.json');
  const jsonText = await readFile(jsonPath, 'utf8');
  const tokenizerJson = parseJson(jsonText, TokenizerJsonSchema, { file: jsonPath });
  const configText = (await readIfExists(configPath)) ?? '{}';
  const config = parseJson(configText, TokenizerConfigSchema, { file: configPath });

  let chatTemplates: Record<string, string> = {};
  if (config.chat_template == null) {
    const jinja = await readIfExists(join(dir, 'chat_template.jinja'));
    if (jinja !== undefined) chatTemplates = { default: jinja };
    else {
      const ctPath = join(dir, 'chat_template.json');
      const ct = await readIfExists(ctPath);
      if (ct !== undefined) chatTemplates = chatTemplatesOf(parseJson(ct, ChatTemplateJsonSchema, { file: ctPath }).chat_template);
    }
  }

  const genPath = join(dir, 'generation_config.json');
  const genText = await readIfExists(genPath);
  let generationEosTokenIds: number[] | undefined;
  if (genText !== undefined) {
    const eos = parseJson(genText, GenerationConfigSchema, { file: genPath }).eos_token_id;
    if (eos != null) generationEosTokenIds = Array.isArray(eos) ? eos : [eos];
  }
  if (options.extraEosTokenIds !== undefined) {
    generationEosTokenIds = [...(generationEosTokenIds ?? []), ...options.extraEosTokenIds];
  }
  const settings = settingsFromConfig(config, {
    chatTemplates,
    ...(generationEosTokenIds === undefined ? {} : { generationEosTokenIds }),
  });
  const tokenizer = HfTokenizer.fromJson(tokenizerJson, config, settings, { tokenizerJson: jsonPath, tokenizerConfig: configPath });
  if (tokenizer.eosTokenIds.length === 0) {
    throw new FileFormatError({
      file: configPath,
      field: 'eos_token',
      message: 'no end-of-sequence token: set `eos_token` here or `eos_token_id` in generation_config.json',
    });
  }
  return tokenizer;
}
