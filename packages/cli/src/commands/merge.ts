import { InvalidArgumentError as CommanderArgumentError, Option, type Command } from 'commander';
import type { BackendName } from '@lora/models';
import type { MergedDtype } from '@lora/peft';
import { backendOption } from '../options.js';
import type { CliIo } from '../io.js';
import { convertedSideFiles } from '../side-files.js';

/** Parsed options of `lora merge`. */
export interface MergeOptions {
  /** Base model: a Hugging Face folder (plain or bitsandbytes 4-bit), a GGUF file, a llama2.c checkpoint, or an asset name. */
  model: string;
  /** The PEFT adapter folder (`adapter_config.json` + `adapter_model.safetensors`). */
  adapter: string;
  /** Output folder (new or empty, unless `overwrite`). */
  out: string;
  /** dtype of the written tensors (default: the base folder's `dtype` when it is one of these, else float32). */
  dtype: MergedDtype | undefined;
  /**
   * Quantize a full-precision base's linears first (blocksize 64, double quantization: the recipe
   * defaults), so an adapter trained with QLoRA on that base merges onto the weights it saw.
   */
  quantize: 'nf4' | 'fp4' | undefined;
  /** Replace an existing, non-empty output folder. */
  overwrite: boolean;
  /** Largest weights file in bytes before sharding (default transformers' 50 GB). */
  maxShardSize: number | undefined;
  /** Backend to use instead of the automatic choice. */
  backend: BackendName | undefined;
  /** Allow downloading the base model from the Hugging Face Hub when it is not found locally. */
  download: boolean;
}

const UNITS: Readonly<Record<string, number>> = { '': 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30 };

/** Parses a size as transformers' `max_shard_size` does: bytes, or `5GB` / `500MB` / `2GiB`. */
function size(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMG]I?B|B)?\s*$/i.exec(value);
  const bytes = match === null ? Number.NaN : Number(match[1]) * (UNITS[(match[2] ?? '').toUpperCase()] ?? Number.NaN);
  if (!(bytes >= 1)) throw new CommanderArgumentError(`expected a size such as 5GB, 500MB or a number of bytes, got "${value}".`);
  return Math.floor(bytes);
}

/**
 * Registers `lora merge --model <base> --adapter <dir> --out <folder>`: folds a LoRA / rsLoRA /
 * DoRA adapter into its base and writes a Hugging Face folder that transformers loads with the
 * logits of base + adapter (`config.json`, `model.safetensors` or shards + index, the base's
 * `generation_config.json` and tokenizer files). The base may be a Hugging Face folder, a
 * bitsandbytes NF4/FP4 folder (dequantized, then merged without requantizing), a GGUF file
 * (dequantized) or a llama2.c checkpoint; `--quantize nf4` first quantizes a full-precision base as
 * a QLoRA recipe did. The folder is built beside `--out` and renamed into
 * place, so a failed merge leaves `--out` as it was.
 *
 * @example
 * ```sh
 * LORA_ASSETS_DIR=../shared lora merge --model SmolLM2-135M-Instruct --adapter runs/carbot/adapter --out models/carbot
 * ```
 */
export function registerMerge(program: Command, io: CliIo): void {
  program
    .command('merge')
    .description('Merge a LoRA adapter into its base model and write a Hugging Face folder (config, safetensors, tokenizer).')
    .requiredOption('-m, --model <name-or-path>', 'base model: Hugging Face folder (also bnb 4-bit), .gguf, llama2.c .bin, or asset name')
    .requiredOption('-a, --adapter <dir>', 'PEFT adapter folder (adapter_config.json + adapter_model.safetensors)')
    .requiredOption('-o, --out <folder>', 'output folder (new or empty)')
    .addOption(
      new Option('--dtype <dtype>', "dtype of the written tensors (default: the base folder's dtype, else float32)").choices([
        'float32',
        'float16',
        'bfloat16',
      ]),
    )
    .addOption(
      new Option(
        '--quantize <type>',
        'quantize the base linears first, as a QLoRA recipe trained them (blocksize 64, double quant)',
      ).choices(['nf4', 'fp4']),
    )
    .option('--max-shard-size <size>', 'largest weights file before sharding, e.g. 5GB (default 50GB, as transformers)', size)
    .option('--overwrite', 'replace an existing, non-empty output folder', false)
    .addOption(backendOption())
    .option('--no-download', 'never download the base model from the Hugging Face Hub')
    .action(async (options: MergeOptions) => {
      await mergeCommand(options, io);
    });
}

async function mergeCommand(options: MergeOptions, io: CliIo): Promise<void> {
  const { resolve, dirname, basename, join, relative, sep } = await import('node:path');
  const { readdir, rename, rm, stat } = await import('node:fs/promises');
  const { resolveAsset, InvalidArgumentError } = await import('@lora/core');
  const out = resolve(options.out);
  const adapter = resolve(options.adapter);
  const existing = await readdir(out).catch(() => undefined);
  if (existing === undefined && (await stat(out).catch(() => undefined)) !== undefined) {
    throw new InvalidArgumentError({ argument: '--out', message: `${out} exists and is not a folder; choose a new folder.` });
  }
  if (existing !== undefined && existing.length > 0 && !options.overwrite) {
    throw new InvalidArgumentError({
      argument: '--out',
      message: `${out} is not empty (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', …' : ''}); pass --overwrite to replace it, or choose a new folder.`,
    });
  }
  const peft = await import('@lora/peft');
  // A bad adapter folder fails here, before the base is loaded.
  const adapterConfig = await peft.readAdapterConfig(adapter, { onWarning: () => {} }); // warnings: once, at load
  const path = resolve(
    await resolveAsset(options.model, {
      kind: 'model',
      env: io.env,
      allowDownload: options.download,
      onProgress: (p) => io.writeErr(`${p.message}\n`),
    }),
  );
  const inside = (child: string, parent: string) => child === parent || child.startsWith(`${parent}${sep}`);
  for (const [name, input] of [
    ['--model', path],
    ['--adapter', adapter],
  ] as const) {
    if (inside(input, out) || inside(out, input)) {
      throw new InvalidArgumentError({ argument: '--out', message: `${out} overlaps ${name} ${input}; choose another output folder.` });
    }
  }

  const models = await import('@lora/models');
  const { openCheckpoint } = await import('@lora/models');
  const { writeJsonAtomic } = await import('@lora/models/internal');
  await models.selectBackend({
    ...(options.backend === undefined ? {} : { backend: options.backend }),
    env: io.env,
    log: (line: string) => io.writeErr(`${line}\n`),
  });
  const checkpoint = await openCheckpoint(path);
  const temporary = join(dirname(out), `.${basename(out)}.merge-${process.pid}-${Date.now().toString(36)}`);
  let model: import('@lora/models').CausalLM | undefined;
  try {
    const config = models.parseModelConfig(checkpoint.configJson, { file: checkpoint.configFile });
    const quantized = checkpoint.format === 'safetensors' && config.quantizationConfig !== undefined && config.quantizationConfig !== null;
    const base = quantized
      ? (await (await import('@lora/quant')).loadQuantizedModel(checkpoint.path)).model
      : (await models.loadModel(checkpoint.path, { nameOrPath: options.model })).model;
    model = base;
    if (options.quantize !== undefined) {
      if (quantized) {
        throw new InvalidArgumentError({
          argument: '--quantize',
          message: `${checkpoint.path} is already a 4-bit checkpoint; drop --quantize.`,
        });
      }
      const n = (await (await import('@lora/quant')).quantizeModel(base, { type: options.quantize })).length;
      io.writeErr(`[lora] quantized ${n} linear modules to ${options.quantize} (blocksize 64, double quant)\n`);
    }
    const dtype = options.dtype ?? baseDtype(checkpoint.configJson, quantized);
    io.writeErr(
      `[lora] merging ${adapter} (r=${adapterConfig.r}${adapterConfig.useDora ? ', DoRA' : ''}) into ${checkpoint.path} (${checkpoint.format}${quantized || options.quantize !== undefined ? ', 4-bit' : ''}) → ${out} (${dtype})\n`,
    );
    model = await peft.loadPeftModel(base, adapter, { onWarning: (m) => io.writeErr(`[lora] ${m}\n`) });
    const written = await peft.saveMergedModel(model, temporary, {
      base: checkpoint.format === 'safetensors' ? checkpoint.path : checkpoint,
      dtype,
      ...(options.maxShardSize === undefined ? {} : { maxShardSize: options.maxShardSize }),
    });
    if (checkpoint.format !== 'safetensors') {
      for (const [name, value] of await convertedSideFiles(checkpoint, config.vocabSize)) {
        const file = join(temporary, name);
        await writeJsonAtomic(file, value);
        written.push(file);
      }
    }
    // Swap the finished folder into place: the old one (if any) goes only once the new one is complete.
    const previous = existing === undefined ? undefined : `${temporary}.old`;
    if (previous !== undefined) await rename(out, previous);
    await rename(temporary, out);
    if (previous !== undefined) await rm(previous, { recursive: true, force: true });
    io.writeOut(`${written.map((f) => `wrote ${join(out, relative(temporary, f))}`).join('\n')}\n`);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error;
  } finally {
    model?.dispose();
    await checkpoint.weights.close();
  }
}

/** The dtype a Hugging Face base folder was saved in, when it is one `lora merge` writes; else float32. */
function baseDtype(configJson: Record<string, unknown>, quantized: boolean): MergedDtype {
  if (quantized) return 'float32';
  const stated = configJson.dtype ?? configJson.torch_dtype;
  return stated === 'float16' || stated === 'bfloat16' ? stated : 'float32';
}
