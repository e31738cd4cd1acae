import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AssetNotFoundError, FileFormatError, parseJson } from '@lora/core';
import { openGguf, readRegularTextFile } from '@lora/core/internal';
import { tokenizerFromGguf } from './gguf/gguf-hf-tokenizer.js';
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

const LLAMA2C_FILES = ['tokenizer.bin', 'tok512.bin'];

async function readIfExists(path: string): Promise<string | undefined> {
  if ((await stat(path).catch(() => undefined)) === undefined) return undefined;
  return readRegularTextFile(path, 'tokenizer file');
}

/**
 * Loads the tokenizer of a model, from local files only (never the network):
 * - a folder with `tokenizer.json` + `tokenizer_config.json` (+ `generation_config.json` for extra
 *   EOS ids, `chat_template.jinja` / `chat_template.json` when the config has no `chat_template`)
 *   → an `HfTokenizer` whose ids equal Python `tokenizers`;
 * - a folder with a llama2.c `tokenizer.bin` / `tok*.bin` (stories260K) → a `Llama2cTokenizerAdapter`;
 * - a `.gguf` file, or a folder holding one GGUF and none of the above → an `HfTokenizer`
 *   built from the file's `tokenizer.ggml.*` metadata as transformers does (`tokenizerFromGguf`),
 *   with `tokenizer.chat_template` as its chat template.
 *
 * @param path - the model folder, or a `.gguf` file.
 * @throws AssetNotFoundError when there is no tokenizer; FileFormatError for malformed files or
 *   several GGUF files in the folder.
 *
 * @example
 * ```ts
 * const tok = await loadTokenizer('/models/Qwen3-0.6B');
 * tok.encode('Hello'); // [9707]
 * const smol = await loadTokenizer('/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf');
 * ```
 */
export async function loadTokenizer(
  path: string,
  options: {
    /** llama2.c only: the model's `vocab_size`, checked against the file. */
    vocabSize?: number;
    /** Extra end-of-sequence ids, appended to the ones the files give. */
    extraEosTokenIds?: readonly number[];
  } = {},
): Promise<Tokenizer> {
  let entries: string[];
  try {
    const info = await stat(path);
    if (info.isFile() && path.toLowerCase().endsWith('.gguf')) return await loadGgufTokenizer(path, options);
    if (!info.isDirectory()) throw new Error('not a directory');
    entries = await readdir(path);
  } catch (error) {
    if (FileFormatError.isInstance(error)) throw error;
    throw new AssetNotFoundError({
      asset: path,
      searched: [path],
      hint: 'pass the folder that holds tokenizer.json (or tokenizer.bin), or a .gguf file',
      cause: error,
    });
  }
  if (entries.includes('tokenizer.json')) return loadHfTokenizer(path, options);
  const bin = LLAMA2C_FILES.find((f) => entries.includes(f)) ?? entries.find((f) => /^tok\d+\.bin$/.test(f));
  if (bin !== undefined) {
    return Llama2cTokenizerAdapter.fromFile(join(path, bin), options.vocabSize === undefined ? {} : { vocabSize: options.vocabSize });
  }
  const ggufs = entries.filter((f) => f.toLowerCase().endsWith('.gguf')).sort();
  if (ggufs.length === 1) return loadGgufTokenizer(join(path, ggufs[0] as string), options);
  if (ggufs.length > 1) {
    throw new FileFormatError({ file: path, message: `several GGUF files (${ggufs.join(', ')}): pass the .gguf file itself` });
  }
  throw new AssetNotFoundError({
    asset: `tokenizer in ${path}`,
    searched: ['tokenizer.json', ...LLAMA2C_FILES, 'tok<N>.bin', '*.gguf'].map((f) => join(path, f)),
    hint: 'copy tokenizer.json and tokenizer_config.json from the model repository into this folder',
  });
}

async function loadGgufTokenizer(file: string, options: LoadTokenizerOptions): Promise<Tokenizer> {
  const { metadata } = await openGguf(file);
  return tokenizerFromGguf(metadata, {
    file,
    ...(options.extraEosTokenIds === undefined ? {} : { extraEosTokenIds: options.extraEosTokenIds }),
  });
}

async function loadHfTokenizer(dir: string, options: LoadTokenizerOptions): Promise<Tokenizer> {
  const jsonPath = join(dir, 'tokenizer.json');
  const configPath = join(dir, 'tokenizer_config.json');
  const jsonText = await readRegularTextFile(jsonPath, 'tokenizer', { maxBytes: 256 * 1024 * 1024 });
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

/** Options of {@link loadTokenizer}. The public signature spells it out. */
export type LoadTokenizerOptions = NonNullable<Parameters<typeof loadTokenizer>[1]>;
