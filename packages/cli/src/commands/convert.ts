import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { convertedSideFiles } from '../side-files.js';

/** Parsed options of `lora convert`. */
export interface ConvertOptions {
  /** Output folder (created; must be empty or absent unless `overwrite`). */
  out: string;
  /** Replace the files of an existing output folder. */
  overwrite: boolean;
}

/**
 * Registers `lora convert <model> --out <folder>`: writes a GGUF file or a llama2.c checkpoint as a
 * Hugging Face folder that transformers loads (`config.json`, `model.safetensors` in float32,
 * `tokenizer.json`, `tokenizer_config.json` with the chat template, `generation_config.json`), so
 * a model used with @lora moves to PyTorch as it is.
 *
 * @example
 * ```sh
 * LORA_ASSETS_DIR=../shared lora convert SmolLM2-135M-Instruct --out models/smollm2-hf
 * ```
 */
export function registerConvert(program: Command, io: CliIo): void {
  program
    .command('convert')
    .description('Write a GGUF or llama2.c model as a Hugging Face folder (config, safetensors, tokenizer, chat template).')
    .argument('<model>', 'a .gguf file, a llama2.c .bin, a folder holding one, or a local asset name')
    .requiredOption('-o, --out <folder>', 'output folder (new or empty)')
    .option('--overwrite', 'replace the files of an existing, non-empty output folder', false)
    .action(async (model: string, options: ConvertOptions) => {
      await convertCommand(model, options, io);
    });
}

async function convertCommand(model: string, options: ConvertOptions, io: CliIo): Promise<void> {
  const { resolve } = await import('node:path');
  const { readdir } = await import('node:fs/promises');
  const { resolveAsset, InvalidArgumentError } = await import('@lora/core');
  const path = await resolveAsset(model, { kind: 'model', env: io.env, allowDownload: false });
  const out = resolve(options.out);
  const existing = await readdir(out).catch(() => []);
  if (existing.length > 0 && !options.overwrite) {
    throw new InvalidArgumentError({
      argument: '--out',
      message: `${out} is not empty (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', …' : ''}); pass --overwrite to replace its files, or choose a new folder.`,
    });
  }
  const written = await convertToHfFolder(path, out, io);
  io.writeOut(`${written.map((f) => `wrote ${f}`).join('\n')}\n`);
}

/**
 * Writes the GGUF or llama2.c checkpoint at `path` as a Hugging Face folder `out` (the work of
 * `lora convert`, also used by `lora export-recipe`) and returns the files written. A folder that
 * already is a Hugging Face checkpoint is an error naming `model`.
 */
export async function convertToHfFolder(path: string, out: string, io: CliIo): Promise<string[]> {
  const { join } = await import('node:path');
  const { InvalidArgumentError } = await import('@lora/core');
  const models = await import('@lora/models');
  const { openCheckpoint } = models;
  const { writeJsonAtomic } = await import('@lora/models/internal');
  const checkpoint = await openCheckpoint(path);
  try {
    if (checkpoint.format === 'safetensors') {
      throw new InvalidArgumentError({
        argument: 'model',
        message: `${path} is already a Hugging Face folder (config.json + safetensors); nothing to convert.`,
      });
    }
    // Fail on an unsupported architecture before writing half a gigabyte.
    const config = models.parseModelConfig(checkpoint.configJson, { file: checkpoint.configFile });
    const sideFiles = await convertedSideFiles(checkpoint, config.vocabSize);
    io.writeErr(
      `[lora] converting ${checkpoint.path} (${checkpoint.format}, ${config.modelType}, ${config.numHiddenLayers} layers) → ${out}\n`,
    );
    const written = await models.writeHfCheckpoint(out, checkpoint);
    for (const [name, value] of sideFiles) {
      const file = join(out, name);
      await writeJsonAtomic(file, value);
      written.push(file);
    }
    return written;
  } finally {
    await checkpoint.weights.close();
  }
}
