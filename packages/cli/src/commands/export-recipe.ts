import { Option, type Command } from 'commander';
import type { Recipe } from '@lora/recipe';
import type { CliIo } from '../io.js';

/** Parsed options of `lora export-recipe`. */
export interface ExportRecipeOptions {
  /** `trl` (a Python script for TRL's SFTTrainer) or `axolotl` (an axolotl YAML). */
  to: 'trl' | 'axolotl';
  /** Output folder (new or empty unless `overwrite`). */
  out: string;
  /** Replace an existing, non-empty output folder. */
  overwrite: boolean;
}

/**
 * Registers `lora export-recipe <recipe> --to trl|axolotl --out <dir>`: writes the recipe as a
 * TRL script (`train_trl.py`: SFTTrainer + LoraConfig + BitsAndBytesConfig) or an axolotl YAML
 * (`axolotl.yaml`) for the same model, data, masks and hyper-parameters, so the training can run on
 * a multi-GPU cluster (accelerate / DeepSpeed) and its PEFT adapter come back to `lora eval` /
 * `lora judge`. The data is read with @lora's readers (bad records: an error at `file:line`, or
 * counted and skipped under `data.mode: skip`) and written as `data/train.jsonl` /
 * `data/validation.jsonl`; a GGUF or llama2.c base is converted into `model/`. A recipe field the
 * target cannot express is an error naming it; approximations are listed in the file's header.
 * The folder is written next to `--out` and renamed into place at the end.
 *
 * @example
 * ```sh
 * lora export-recipe examples/carbot/recipes/smoke.yaml --to trl --out runs/carbot-trl
 * ```
 */
export function registerExportRecipe(program: Command, io: CliIo): void {
  program
    .command('export-recipe')
    .description('Write a recipe as a TRL script or an axolotl YAML (plus its data as JSONL) to train elsewhere.')
    .argument('<recipe>', 'recipe file (.yaml / .json)')
    .addOption(
      new Option('--to <target>', 'trl: a Python script for TRL SFTTrainer; axolotl: an axolotl YAML')
        .choices(['trl', 'axolotl'])
        .makeOptionMandatory(),
    )
    .requiredOption('-o, --out <dir>', 'output folder (new or empty)')
    .option('--overwrite', 'replace an existing, non-empty output folder', false)
    .action(async (file: string, options: ExportRecipeOptions) => {
      await exportRecipe(file, options, io);
    });
}

/** Reads the tokenizer's own chat template from a Hugging Face folder, if it has one. */
async function ownChatTemplate(dir: string): Promise<string | undefined> {
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const jinja = await readFile(join(dir, 'chat_template.jinja'), 'utf8').catch(() => undefined);
  if (jinja !== undefined) return jinja;
  const config = await readFile(join(dir, 'tokenizer_config.json'), 'utf8').catch(() => undefined);
  if (config === undefined) return undefined;
  const template = (JSON.parse(config) as { chat_template?: unknown }).chat_template;
  return typeof template === 'string' ? template : undefined;
}

/**
 * The chat template the exported tokenizer needs: the recipe's (`stories` or a file) or the
 * tokenizer's own, for TRL with `{% generation %}` blocks around the stories template's assistant
 * text (TRL's `assistant_only_loss` reads them) and `bos_token` first when `data.addBos`.
 * Undefined when the tokenizer's own template is used unchanged.
 */
async function exportedChatTemplate(
  recipe: Recipe,
  file: string,
  modelDir: string,
  target: ExportRecipeOptions['to'],
  notes: string[],
): Promise<string | undefined> {
  const { FileFormatError } = await import('@lora/core');
  const { STORIES_CHAT_TEMPLATE } = await import('@lora/data');
  const { recipeChatTemplate } = await import('@lora/recipe');
  let template = await recipeChatTemplate(recipe);
  let changed = template !== undefined;
  template ??= await ownChatTemplate(modelDir);
  if (template === undefined) {
    throw new FileFormatError({
      file,
      field: 'data.chatTemplate',
      message: `the data holds conversations but the tokenizer in ${modelDir} has no chat template; set \`data.chatTemplate\`.`,
    });
  }
  // axolotl masks by role (roles_to_train); TRL's assistant_only_loss reads generation blocks.
  if (target === 'trl' && recipe.data.mask === 'assistant' && !/\{%-?\s*generation\s*-?%\}/.test(template)) {
    const assistant = "{{ 'Assistant: ' }}{{ message.content | trim }}{{ '\\n' }}\n";
    if (template === STORIES_CHAT_TEMPLATE && template.includes(assistant)) {
      template = template.replace(
        assistant,
        "{{ 'Assistant: ' }}{% generation %}{{ message.content | trim }}{{ '\\n' }}{% endgeneration %}\n",
      );
      changed = true;
    } else {
      throw new FileFormatError({
        file,
        field: 'data.mask',
        message:
          '`assistant` needs a chat template with `{% generation %}…{% endgeneration %}` around the assistant text ' +
          "(TRL's assistant_only_loss); add them to the template (`data.chatTemplate`) or use `mask: completion`.",
      });
    }
  }
  if (recipe.data.addBos === true && !template.includes('bos_token')) {
    template = `{{ bos_token }}${template}`;
    changed = true;
  } else if (recipe.data.addBos === false && template.includes('bos_token')) {
    notes.push('data.addBos: false, but the chat template writes bos_token itself.');
  }
  return changed ? template : undefined;
}

async function exportRecipe(file: string, options: ExportRecipeOptions, io: CliIo): Promise<void> {
  const { mkdir, readdir, rename, rm, writeFile } = await import('node:fs/promises');
  const { basename, dirname, join, resolve } = await import('node:path');
  const { InvalidArgumentError, resolveAsset } = await import('@lora/core');
  const { openCheckpoint } = await import('@lora/models');
  const { loadRecipe } = await import('@lora/recipe');
  const { parseTrainingArgs } = await import('@lora/train');
  const { convertSplit } = await import('../export/export-data.js');
  const { axolotlYaml, trlScript } = await import('../export/targets.js');
  const { convertToHfFolder } = await import('./convert.js');

  const { recipe } = await loadRecipe(file, io.env);
  const training = parseTrainingArgs(recipe.training, `${file} (training)`);
  const out = resolve(options.out);
  const existing = await readdir(out).catch(() => []);
  if (existing.length > 0 && !options.overwrite) {
    throw new InvalidArgumentError({
      argument: '--out',
      message: `${out} is not empty (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', …' : ''}); pass --overwrite to replace it, or choose a new folder.`,
    });
  }
  const tmp = join(dirname(out), `.${basename(out)}.export-${process.pid}.tmp`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(join(tmp, 'data'), { recursive: true });
  try {
    // Data first: a bad record fails before a model is converted.
    const train = await convertSplit(recipe.data.train, recipe, recipe.data.limit, options.to);
    const validation =
      recipe.data.validation === undefined ? undefined : await convertSplit(recipe.data.validation, recipe, undefined, options.to);
    if (validation !== undefined && validation.kind !== train.kind) {
      throw new InvalidArgumentError({
        argument: 'data.validation',
        message: `${validation.source} gives "${validation.kind}" rows but ${train.source} gives "${train.kind}" rows; both splits need the same record format.`,
      });
    }
    await writeFile(join(tmp, 'data', 'train.jsonl'), train.jsonl);
    if (validation !== undefined) await writeFile(join(tmp, 'data', 'validation.jsonl'), validation.jsonl);
    for (const split of [train, validation]) {
      if (split === undefined) continue;
      io.writeErr(
        `[lora] ${split.source}: ${split.read} records read, ${split.written} written, ${split.skipped} skipped, ${split.invalidUtf8} with invalid UTF-8\n`,
      );
      if (split.problems !== '') io.writeErr(`${split.problems}\n`);
    }

    const notes: string[] = [];
    const path = await resolveAsset(recipe.model, { kind: 'model', env: io.env, allowDownload: false });
    const checkpoint = await openCheckpoint(path);
    const format = checkpoint.format;
    await checkpoint.weights.close();
    let model = path;
    let modelInExport = false;
    if (format !== 'safetensors') {
      await convertToHfFolder(path, join(tmp, 'model'), io);
      model = 'model';
      modelInExport = true;
      notes.push(`model: ${recipe.model} (${format}) converted to model/ as \`lora convert ${recipe.model} --out model\` does.`);
    }
    const modelDir = modelInExport ? join(tmp, 'model') : path;
    const conversational = train.kind === 'messages' || train.kind === 'conversational-prompt-completion';
    const chatTemplate = conversational
      ? await exportedChatTemplate(recipe, file, recipe.tokenizer ?? modelDir, options.to, notes)
      : undefined;
    if (!conversational && recipe.data.chatTemplate !== undefined)
      notes.push('data.chatTemplate: unused (the data holds no conversation).');
    if (!conversational && recipe.data.addBos !== undefined) {
      notes.push(
        `data.addBos: ${recipe.data.addBos} → tokenizer.add_bos_token (honoured by tokenizers that rebuild their post-processor).`,
      );
    }
    const plan = {
      file,
      recipe,
      training,
      model,
      modelInExport,
      ...(recipe.tokenizer === undefined ? {} : { tokenizer: recipe.tokenizer }),
      ...(chatTemplate === undefined ? {} : { chatTemplate }),
      kind: train.kind,
      validation: validation !== undefined,
      notes,
    };
    const target = options.to === 'trl' ? 'train_trl.py' : 'axolotl.yaml';
    await writeFile(join(tmp, target), options.to === 'trl' ? trlScript(plan) : axolotlYaml(plan));
    const report = {
      recipe: resolve(file),
      target: options.to,
      model: modelInExport ? join(out, 'model') : model,
      data: Object.fromEntries(
        [
          ['train', train],
          ['validation', validation],
        ]
          .filter((e): e is [string, typeof train] => e[1] !== undefined)
          .map(([k, s]) => [k, { source: s.source, read: s.read, written: s.written, skipped: s.skipped, invalidUtf8: s.invalidUtf8 }]),
      ),
      notes,
    };
    await writeFile(join(tmp, 'export_report.json'), `${JSON.stringify(report, null, 2)}\n`);
    await rm(out, { recursive: true, force: true });
    await rename(tmp, out);
    io.writeOut(`${JSON.stringify({ output: out, file: join(out, target), records: train.written, notes: notes.length })}\n`);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}
