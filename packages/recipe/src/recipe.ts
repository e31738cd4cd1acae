import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { FileFormatError, InvalidArgumentError } from '@lora/core';
import { readRegularTextFile, validate } from '@lora/core/internal';
import { backendNames } from '@lora/models/internal';
import { type LoraConfigOptions, loraConfig } from '@lora/peft';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { type TrainingArgsInput, TrainingArgsSchema } from '@lora/train';

/** `quantization:` — load the base in 4 bits (QLoRA). Embeddings, norms and `lm_head` stay float32. */
export const QuantizationSectionSchema = z.strictObject({
  /** `nf4` (default) or `fp4`, as bitsandbytes. */
  type: z.enum(['nf4', 'fp4']).default('nf4'),
  /** Elements per absmax block (bitsandbytes' sizes, default 64). */
  blocksize: z.number().int().positive().default(64),
  /** Quantize the absmax values too (8-bit, blocks of 256) — QLoRA's double quantization. Default true. */
  doubleQuant: z.boolean().default(true),
  /** Module paths (or name suffixes) to keep in float32. */
  skip: z.array(z.string()).default([]),
});

/** `data:` — where the examples come from and how they become token batches. */
export const DataSectionSchema = z.strictObject({
  /** Training file: `.jsonl`, `.json`, `.csv`, `.tsv` or `.parquet` (relative to the recipe; `${VAR}` expanded). */
  train: z.string(),
  /** Validation file; its loss is reported every `training.evalSteps`. */
  validation: z.string().optional(),
  /** Record format: `auto` (detect per record), `messages`, `prompt-completion`, `text` or `mc`. */
  format: z.enum(['auto', 'messages', 'prompt-completion', 'text', 'mc']).default('auto'),
  /** Which tokens of a conversation are trained: `assistant` turns (default), the final `completion`, or `all`. */
  mask: z.enum(['assistant', 'completion', 'all']).default('assistant'),
  /** Chat template: `stories` (the built-in stories260K template), a `.jinja` file path, or omitted for the tokenizer's own. */
  chatTemplate: z.string().optional(),
  /** Prepend BOS when encoding (default: the tokenizer's rule; stories260K recipes set true). */
  addBos: z.boolean().optional(),
  /** Longest example in tokens; longer ones are truncated (counted and reported). Default 512. */
  maxLength: z.number().int().positive().default(512),
  /** Side that truncation cuts. Default `right`. */
  truncation: z.enum(['left', 'right']).default('right'),
  /** Pack several examples per row (best-fit decreasing, block-diagonal attention) instead of padding. */
  packing: z.boolean().default(false),
  /** Examples (or packed rows) per micro-batch. Default 4. */
  batchSize: z.number().int().positive().default(4),
  /** Use only the first N training records. */
  limit: z.number().int().positive().optional(),
  /** `strict` (default): a malformed record is an error at file:line; `skip`: counted, listed and skipped. */
  mode: z.enum(['strict', 'skip']).default('strict'),
});

/** `evaluation:` — what `lora eval` generates and scores (base vs adapter). */
export const EvaluationSectionSchema = z.strictObject({
  /** Test file: `.jsonl` / `.json` of `{id, prompt | messages, reference?}`. */
  test: z.string(),
  /** Evaluate only the first N examples. */
  limit: z.number().int().positive().optional(),
  /** Metric names (`exact_match`, `json_valid`, `json_exact_match`, `slot_f1`, `gsm8k`, …) or metric objects. */
  metrics: z.array(z.union([z.string(), z.record(z.string(), z.unknown())])).default(['exact_match']),
  /** Longest generation. Default 64. */
  maxNewTokens: z.number().int().positive().default(64),
  /** Sampling temperature (0 = greedy, the default). */
  temperature: z.number().nonnegative().default(0),
  /** Prompts generated together. Default 4. */
  batchSize: z.number().int().positive().default(4),
  /** Alias table applied to predictions before scoring (reported with and without). */
  aliases: z.record(z.string(), z.string()).optional(),
  /** Report folder (default `<output>/eval`). */
  output: z.string().optional(),
});

/**
 * A section whose fields another package's rules check (`adapter`: `loraConfig`, `training`:
 * `TrainingArgsSchema`; see {@link loadRecipe}): an object here, typed as that package's input.
 */
function sectionOf<T extends object>() {
  return z.custom<T>((value) => value !== null && typeof value === 'object' && !Array.isArray(value), {
    error: (issue) => `expected a mapping of fields, got ${Array.isArray(issue.input) ? 'a list' : JSON.stringify(issue.input)}`,
  });
}

/** A whole recipe: model, quantization, adapter, data, training, evaluation, output. */
export const RecipeSchema = z.strictObject({
  /** Name of the run: one safe path segment (letters, digits, `.`, `_`, `-`), used in the default output folder `runs/<name>`. */
  name: z
    .string()
    .regex(/^(?!\.\.?$)[A-Za-z0-9._-]{1,128}$/, {
      error: (issue) =>
        `${JSON.stringify(issue.input)} is not a safe run name: use one path segment of letters, digits, ".", "_" and "-" (it names the folder runs/<name>)`,
    })
    .default('run'),
  /** Model name (resolved through `LORA_ASSETS_DIR` / the HF cache / the Hub) or folder / file path. */
  model: z.string(),
  /** Tokenizer folder; default the model's. */
  tokenizer: z.string().optional(),
  /** tfjs backend (`tensorflow`, `tensorflow-gpu`, `webgpu`, `wasm`, `cpu`); default automatic. */
  backend: z.enum(backendNames).optional(),
  /** 4-bit base (QLoRA); omit for a float32 base. */
  quantization: QuantizationSectionSchema.optional(),
  /**
   * LoRA settings in @lora/peft's camelCase (`r`, `loraAlpha`, `loraDropout`, `targetModules`,
   * `useRslora`, `useDora`, …; PEFT's defaults), or `none` for full fine-tuning of every linear.
   */
  adapter: z.union([z.literal('none'), sectionOf<LoraConfigOptions>()]).default({}),
  data: DataSectionSchema,
  /** Training hyper-parameters (see `TrainingArgs`: maxSteps, learningRate, lrScheduler, warmup, …). */
  training: sectionOf<TrainingArgsInput>().default({}),
  evaluation: EvaluationSectionSchema.optional(),
  /** Output folder (relative to the current directory). Default `runs/<name>`. */
  output: z.string().optional(),
});

/** A parsed recipe (defaults filled; `adapter` and `training` in their packages' input form). */
export type Recipe = z.output<typeof RecipeSchema>;

/** A recipe plus where it came from, with paths resolved. */
export interface LoadedRecipe {
  recipe: Recipe;
  /** The recipe file. */
  file: string;
}

/** Replaces `${VAR}` with the environment's value; an unset variable is an error naming it and the field. */
function expandEnv(value: unknown, env: Readonly<Record<string, string | undefined>>, file: string, path: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined || v === '') {
        throw new FileFormatError({
          file,
          field: path,
          message:
            `uses the environment variable ${name} (\`\${${name}}\`), which is ${v === undefined ? 'not set' : 'empty'}. ` +
            `Set it before the command, e.g. \`${name}=path/to/folder lora train ${file}\` (a relative path in it is resolved against the current directory).`,
        });
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, file, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, file, path === '' ? k : `${path}.${k}`)]));
  }
  return value;
}

/**
 * Reads and validates a recipe (YAML or JSON): `${VAR}` references are expanded from `env`, file
 * paths in `data` and `evaluation` are resolved relative to the recipe's folder, and the
 * `training` section is checked against {@link TrainingArgsSchema}. Errors name the file and field.
 *
 * @example
 * ```ts
 * const { recipe } = await loadRecipe('examples/carbot/recipes/smoke.yaml');
 * ```
 */
export async function loadRecipe(file: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<LoadedRecipe> {
  const text = await readRegularTextFile(file, 'recipe', { maxBytes: 1024 * 1024 });
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new FileFormatError({
      file,
      message: `not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
      cause: error,
    });
  }
  const recipe = validate(expandEnv(raw, env, file, ''), RecipeSchema, { file });
  validate({ training: recipe.training }, z.object({ training: TrainingArgsSchema }), { file });
  validateAdapter(recipe.adapter, file);
  const base = dirname(resolve(file));
  // A path written in the recipe is relative to the recipe; one that starts with `${VAR}` takes
  // the variable's value as the user typed it in the shell: relative to the working directory.
  const at = (p: string, field: readonly string[]) =>
    isAbsolute(p) ? p : resolve(startsWithVariable(raw, field) ? process.cwd() : base, p);
  const looksLikePath = (p: string) => p.startsWith('.') || p.startsWith('/') || (p.includes('/') && !/^[\w.-]+\/[\w.-]+$/.test(p));
  const chatTemplate =
    recipe.data.chatTemplate === undefined || recipe.data.chatTemplate === 'stories'
      ? undefined
      : at(recipe.data.chatTemplate, ['data', 'chatTemplate']);
  if (chatTemplate !== undefined) await assertRegularFile(chatTemplate, file, 'data.chatTemplate', 'chat template');
  return {
    file,
    recipe: {
      ...recipe,
      model: looksLikePath(recipe.model) ? at(recipe.model, ['model']) : recipe.model,
      ...(recipe.tokenizer === undefined ? {} : { tokenizer: at(recipe.tokenizer, ['tokenizer']) }),
      data: {
        ...recipe.data,
        train: at(recipe.data.train, ['data', 'train']),
        ...(recipe.data.validation === undefined ? {} : { validation: at(recipe.data.validation, ['data', 'validation']) }),
        ...(chatTemplate === undefined ? {} : { chatTemplate }),
      },
      ...(recipe.evaluation === undefined
        ? {}
        : { evaluation: { ...recipe.evaluation, test: at(recipe.evaluation.test, ['evaluation', 'test']) } }),
    },
  };
}

/** Whether the raw (unexpanded) recipe value at `field` starts with a `${VAR}` reference. */
function startsWithVariable(raw: unknown, field: readonly string[]): boolean {
  let value = raw;
  for (const key of field) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' && /^\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(value);
}

/** Checks the `adapter` section with @lora/peft's rules now, so a bad value names the recipe and field before any model loads. */
function validateAdapter(adapter: Recipe['adapter'], file: string): void {
  if (adapter === 'none') return;
  try {
    loraConfig(adapter, { onWarning: () => {} });
  } catch (error) {
    if (!InvalidArgumentError.isInstance(error)) throw error;
    const field = `adapter.${error.argument.replace(/^LoraConfig\./, '')}`;
    const message = error.message.replace(/^Invalid argument `[^`]*`: /, '');
    throw new FileFormatError({ file, field, message, cause: error });
  }
}

/** A file the recipe names must exist and be a regular file (a FIFO or device would hang the read later). */
async function assertRegularFile(path: string, file: string, field: string, what: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new FileFormatError({ file, field, message: `the ${what} ${path} does not exist.` });
  if (!info.isFile()) throw new FileFormatError({ file, field, message: `the ${what} ${path} is not a regular file.` });
}
